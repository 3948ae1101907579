"""The new entry as a candidate of the catalog: validated, compared with what is published, and
checked as CI would check it, all before anything is written.

The candidate is validated in memory as if it were the file it will become (the clock rule on
`publishedAt` included, the one the catalog-wide checks apply), so a problem's line
and column are those of that file. A digest is published once: the same digests again are the
entry already published, some of them again are a conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from image_catalog.catalog.loader import IMAGES_DIR, Catalog, Loaded, display_path
from image_catalog.catalog.problems import Problem, from_validation_error, locate_all, sort_key
from image_catalog.catalog.rules import published_in_future, rfc3339
from image_catalog.catalog.validate import check_entry, check_path
from image_catalog.errors import CatalogError, RegistryUnavailable
from image_catalog.manifest.model import CatalogImage
from image_catalog.registry.client import RegistryClient
from image_catalog.registry.online import check_online


class PublishRejected(CatalogError):
    """The new manifest would not pass validation; nothing was written."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(str(p) for p in self.problems)
        # The lines and columns point into a file that does not exist: say so.
        super().__init__(
            "the new manifest does not validate; nothing was written. Lines and columns below "
            f"are those of the manifest as it would have been written:\n{lines}"
        )


def entry_path(catalog: Catalog, name: str, version: str) -> Path:
    """Where the entry `name@version` is written."""
    return catalog.root / IMAGES_DIR / name / f"{version}.yaml"


def is_taken(catalog: Catalog, name: str, version: str) -> bool:
    """Whether `name@version` is already published (with whatever digests)."""
    return entry_path(catalog, name, version).exists()


def validated_candidate(
    catalog: Catalog, document: dict[str, Any], text: str, target: Path
) -> Loaded[CatalogImage]:
    """The new entry validated as a `CatalogImage`, as if it were the file `target` holding
    `text`; a `PublishRejected` with located problems when it does not validate."""
    shown = display_path(catalog.root, target.relative_to(catalog.root).as_posix())
    try:
        model = CatalogImage.model_validate(document, context={"vocabulary": catalog.vocabulary})
    except ValidationError as exc:
        _reject(from_validation_error(exc, shown, document, target), target, text)
    # The catalog-wide clock rule, applied here too: CI would refuse it after it was written.
    future = published_in_future([(shown, rfc3339(model.spec.published_at))])
    if future:
        _reject([replace(p, source=target) for p in future], target, text)
    return Loaded(model, shown, target, document)


def holding_exactly(catalog: Catalog, wanted: set[str]) -> Loaded[CatalogImage] | None:
    """The published entry whose digests are exactly `wanted`, if there is one."""
    for loaded in catalog.images:
        if {manifest.digest for _, manifest in loaded.model.manifests()} == wanted:
            return loaded
    return None


def refuse_overlap(catalog: Catalog, wanted: set[str]) -> None:
    """A digest may be published once: sharing some digests with an entry is a conflict."""
    for loaded in catalog.images:
        overlap = wanted & {manifest.digest for _, manifest in loaded.model.manifests()}
        if overlap:
            raise CatalogError(
                f"digest {sorted(overlap)[0]} is already published in {loaded.file} "
                f"({loaded.model.id}) together with other images; publish only what is new "
                "(e.g. with --arch) or under that entry"
            )


def repositories(image: CatalogImage) -> set[str]:
    """`host/repository` of every manifest the entry pins (index, containers, disks)."""
    return {manifest.ref.rsplit("@", 1)[0] for _, manifest in image.manifests()}


def same_source(new: CatalogImage, published: CatalogImage) -> bool:
    """Whether two entries come from the same source: they share a repository (the registry
    host and repository path of an index, container or disk), and when both were made by an
    ImageBuild, those builds ran in the same namespace."""
    if not repositories(new) & repositories(published):
        return False
    builds = new.spec.source.image_build, published.spec.source.image_build
    return builds[0] is None or builds[1] is None or builds[0].namespace == builds[1].namespace


def refuse_joining_another_source(catalog: Catalog, candidate: Loaded[CatalogImage]) -> None:
    """A default name must not add a version to an image line published from another source:
    the new entry would become that line's latest version without anybody choosing so."""
    model = candidate.model
    line = [e.model for e in catalog.images if e.model.metadata.name == model.metadata.name]
    if not line or any(same_source(model, published) for published in line):
        return
    newest = max(line, key=lambda published: published.spec.published_at)
    build = newest.spec.source.image_build
    where = ", ".join(sorted(repositories(newest)))
    if build is not None:
        where += f", ImageBuild namespace {build.namespace}"
    raise CatalogError(
        f"{candidate.file}: the default name {model.metadata.name!r} would add this image to an "
        f"image published from another source ({newest.id}: {where}), and make it that image's "
        f"latest version; choose another name with --name, or pass --name "
        f"{model.metadata.name} to add it there on purpose"
    )


def check_candidate(
    catalog: Catalog, client: RegistryClient, candidate: Loaded[CatalogImage], text: str
) -> None:
    """Run the offline and online checks CI runs, on the manifest before it is written."""
    model = candidate.model
    hosts = {r.model.spec.host for r in catalog.registries}
    known = {e.model.id for e in catalog.images} | {model.id}
    problems = check_path(candidate) + check_entry(catalog, candidate, hosts, known)
    if not problems:
        with_candidate = replace(catalog, images=[*catalog.images, candidate])
        online = check_online(with_candidate, client, only={model.id})
        if online.unchecked:
            raise RegistryUnavailable(
                f"{model.id} could not be checked against its registry: "
                f"{'; '.join(online.unchecked)}; nothing was written, retry"
            )
        problems = list(online.problems)
    if problems:
        _reject(problems, candidate.source, text)


def _reject(problems: list[Problem], target: Path, text: str) -> NoReturn:
    locate_all(problems, {target: text})
    raise PublishRejected(sorted(problems, key=sort_key)) from None
