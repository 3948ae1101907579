"""`validate --online`: catalog entries checked against what a real registry holds.

The entries are built from pushed content by `support.pushed`, the way `publish` records them.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from image_catalog.catalog.loader import load_catalog
from image_catalog.cli import main
from image_catalog.registry.client import RegistryClient
from image_catalog.registry.online import OnlineResult, check_online
from support.catalogs import empty_catalog, registry_manifest
from support.git import GitWork
from support.oci import (
    push_image,
    push_index,
)
from support.pushed import AIB, board_artifact, container, disk, write_entry
from support.registry import REGISTRY_PASSWORD, LocalRegistry

# --- helpers -------------------------------------------------------------------------------------


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def run_online(
    catalog: Path, registry: LocalRegistry, **options: Any
) -> tuple[OnlineResult, RegistryClient]:
    loaded = load_catalog(catalog)
    assert not loaded.problems, loaded.problems
    with RegistryClient([r.model for r in loaded.registries], backoff=0.01) as client:
        return check_online(loaded, client, **options), client


def validate(catalog: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["validate", "--online", "--catalog", str(catalog), *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def problems(result: OnlineResult) -> list[tuple[str, str]]:
    return sorted((p.field, p.code) for p in result.problems)


# --- a valid catalog ----------------------------------------------------------------------------


def test_valid_catalog_passes_and_fetches_each_manifest_once(
    registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = push_index(registry, "online/valid-multi", "1.0")
    write_entry(local_catalog, "multi", [container(i) for i in index.images], index=index)
    single = push_image(registry, "online/valid-single", "1.0", "arm64")
    write_entry(local_catalog, "single", [container(single)])
    write_entry(
        local_catalog,
        "board",
        [disk(board_artifact(registry, "online/valid-board"))],
        distro="autosd10",
        targets=("ridesx4",),
    )
    legacy = board_artifact(registry, "online/valid-legacy", style="legacy")
    write_entry(local_catalog, "legacy", [disk(legacy)], distro="autosd", targets=("ridesx4",))

    result, client = run_online(local_catalog, registry)
    assert result.problems == []
    assert result.complete
    assert (result.entries, result.registries) == (4, ["local"])
    # index + 2 images, 1 single image and its config (no index to give its platform), 2 disks
    assert (result.manifests, result.configs, client.calls) == (6, 1, 7)

    code, out = validate(local_catalog, capsys)
    assert code == 0, out
    assert out == (f"{local_catalog}: the catalog is valid (4 images, 1 registry, online checks)\n")


def test_only_restricts_the_entries_checked(registry: LocalRegistry, local_catalog: Path) -> None:
    for name in ("first", "second"):
        write_entry(local_catalog, name, [container(push_image(registry, f"online/{name}", "v"))])
    calls: list[tuple[int, int]] = []
    result, client = run_online(
        local_catalog, registry, only={"second@1.0"}, progress=lambda *a: calls.append(a)
    )
    assert (result.entries, client.calls, calls) == (1, 2, [(1, 1)])


def test_pinned_entry_survives_a_moved_tag(
    registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = push_image(registry, "online/moving", "stable")
    write_entry(local_catalog, "moving", [container(old)])
    new = push_image(registry, "online/moving", "stable")
    code, out = validate(local_catalog, capsys)
    assert code == 0, out
    with RegistryClient([load_catalog(local_catalog).registries[0].model]) as client:
        assert client.inspect(old.tag_ref, config=False).digest == new.digest  # what publish sees


# --- what the registry contradicts --------------------------------------------------------------


def test_deleted_manifest_is_reported_at_its_field(
    registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = push_index(registry, "online/deleted", "1.0")
    entry = write_entry(local_catalog, "deleted", [container(i) for i in index.images], index=index)
    gone = index.images[1]
    registry.delete_manifest("online/deleted", gone.digest)
    code, out = validate(local_catalog, capsys)
    assert code == 1
    lines = out.splitlines()
    assert re.fullmatch(
        rf"{re.escape(str(entry))}:\d+:\d+: spec\.variants\[1\]\.container\.ref: "
        rf"{re.escape(gone.ref)} was not found in registry local \({registry.host}\): it was "
        "deleted or never pushed; push it again, or deprecate this version",
        lines[0],
    ), lines[0]
    line = int(lines[0].split(":")[1])
    assert entry.read_text().splitlines()[line - 1].strip() == f"ref: {gone.ref}"
    assert lines[-1] == (
        f"{local_catalog}: 1 problem in 1 file (1 image, 1 registry, online checks)"
    )


def test_deprecated_version_whose_image_is_gone_is_a_warning(
    registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = push_image(registry, "online/retired", "1.0")
    entry = write_entry(local_catalog, "retired", [container(gone)])
    registry.delete_manifest("online/retired", gone.digest)
    text = entry.read_text().replace(
        "  publishedAt:",
        "  lifecycle:\n    deprecated: {reason: Removed from the registry, date: 2026-02-01}\n"
        "  publishedAt:",
    )
    entry.write_text(text)
    code, out = validate(local_catalog, capsys)
    assert code == 0, out
    assert "was not found in registry local" in out.splitlines()[0]
    assert out.splitlines()[0].endswith("(warning)")


def test_index_must_list_exactly_the_variants(registry: LocalRegistry, local_catalog: Path) -> None:
    partial = push_index(registry, "online/partial", "1.0", architectures=["amd64"])
    arm = push_image(registry, "online/partial", None, "arm64")
    write_entry(
        local_catalog, "partial", [container(partial.images[0]), container(arm)], index=partial
    )
    extra = push_index(registry, "online/extra", "1.0")
    write_entry(local_catalog, "extra", [container(extra.images[0])], index=extra)
    swapped = push_index(registry, "online/swapped", "1.0")
    amd, arm64 = swapped.images
    variants = [container(amd, "aarch64"), container(arm64, "x86_64")]
    write_entry(local_catalog, "swapped", variants, index=swapped)

    result, _ = run_online(local_catalog, registry)
    messages = {(p.file.split("/")[-2], p.field): p.message for p in result.problems}
    assert sorted(messages) == [
        ("extra", "spec.index.ref"),
        ("partial", "spec.variants[1].container.ref"),
        ("swapped", "spec.variants[0].architecture"),
        ("swapped", "spec.variants[1].architecture"),
    ]
    assert messages["partial", "spec.variants[1].container.ref"] == (
        f"the index {partial.ref} does not list this image (it lists: linux/amd64 "
        f"{partial.images[0].digest})"
    )
    assert messages["extra", "spec.index.ref"] == (
        f"the index also lists linux/arm64 {extra.images[1].digest}, which no variant records: "
        "add a variant for it"
    )
    assert messages["swapped", "spec.variants[0].architecture"] == (
        "the index lists this image as platform linux/amd64, not architecture 'aarch64'"
    )


def test_single_image_architecture_comes_from_its_config(
    registry: LocalRegistry, local_catalog: Path
) -> None:
    image = push_image(registry, "online/config-arch", "v1", "arm64")
    write_entry(local_catalog, "config-arch", [container(image, "x86_64")])
    result, _ = run_online(local_catalog, registry)
    assert [(p.field, p.message) for p in result.problems] == [
        (
            "spec.variants[0].architecture",
            "the image's config says architecture 'arm64', not 'x86_64'",
        )
    ]


def test_artifact_files_must_match_its_layers(registry: LocalRegistry, local_catalog: Path) -> None:
    artifact = board_artifact(registry, "online/files")
    entry = write_entry(local_catalog, "files", [disk(artifact)], targets=("ridesx4",))
    boot, root = artifact.layers
    edit(entry, boot.digest.removeprefix("sha256:"), hashlib.sha256(b"other").hexdigest())
    edit(entry, f"size: {root.size}\n", f"size: {root.size + 1}\n")
    edit(entry, "partition: root_a", "partition: root_b")
    edit(entry, "decompressedSize: 8", "decompressedSize: 9")
    result, _ = run_online(local_catalog, registry)
    assert problems(result) == [
        ("spec.distro", "annotation_mismatch"),  # the artifact says autosd, the entry autosd9-sig
        ("spec.variants[0].disk.files[0].sha256", "artifact_mismatch"),
        ("spec.variants[0].disk.files[1].decompressedSize", "artifact_mismatch"),
        ("spec.variants[0].disk.files[1].partition", "artifact_mismatch"),
        ("spec.variants[0].disk.files[1].size", "artifact_mismatch"),
    ]
    by_field = {p.field: p.message for p in result.problems}
    assert by_field["spec.variants[0].disk.files[0].sha256"] == (
        f"the artifact's layer says '{boot.digest.removeprefix('sha256:')}'"
    )
    assert by_field["spec.variants[0].disk.files[1].size"] == (
        f"the artifact's layer says {root.size}"
    )


def test_artifact_files_missing_or_unlisted(registry: LocalRegistry, local_catalog: Path) -> None:
    artifact = board_artifact(registry, "online/titles")
    entry = write_entry(
        local_catalog, "titles", [disk(artifact)], distro="autosd", targets=("ridesx4",)
    )
    edit(entry, "title: root.img.gz", "title: rootfs.img.gz")
    result, _ = run_online(local_catalog, registry)
    assert [(p.field, p.message) for p in result.problems] == [
        (
            "spec.variants[0].disk.files[1].title",
            "the artifact has no layer titled 'rootfs.img.gz' (its layers: "
            "'boot-online-titles.img.gz', 'root.img.gz')",
        ),
        (
            "spec.variants[0].disk.files",
            "the artifact also has 'root.img.gz', not listed here: add them",
        ),
    ]


def test_aib_annotations_must_agree_with_the_entry(
    registry: LocalRegistry, local_catalog: Path
) -> None:
    # Aliases agree: cs9 is autosd9-latest-sig, arm64 is aarch64.
    notes = {f"{AIB}distro": "cs9", f"{AIB}target": "ridesx4", f"{AIB}arch": "arm64"}
    agreeing = board_artifact(registry, "online/agree", notes=notes)
    write_entry(
        local_catalog, "agree", [disk(agreeing)], distro="autosd9-latest-sig", targets=("ridesx4",)
    )
    notes = {f"{AIB}distro": "autosd10", f"{AIB}target": "rpi4", f"{AIB}arch": "x86_64"}
    disagreeing = board_artifact(registry, "online/disagree", notes=notes)
    write_entry(local_catalog, "disagree", [disk(disagreeing)], targets=("ridesx4",))
    result, _ = run_online(local_catalog, registry)
    assert [(p.field, p.message) for p in result.problems] == [
        ("spec.distro", f"{disagreeing.ref} is annotated distro 'autosd10'"),
        ("spec.targets", f"{disagreeing.ref} is annotated target 'rpi4', which is not among them"),
        ("spec.variants[0].architecture", f"{disagreeing.ref} is annotated arch 'x86_64'"),
    ]


def test_recorded_kind_media_type_and_size_must_match(
    registry: LocalRegistry, local_catalog: Path
) -> None:
    image = push_image(registry, "online/recorded", "v1")
    entry = write_entry(local_catalog, "recorded", [container(image)])
    edit(entry, f"size: {image.size}", f"size: {image.size + 5}")
    edit(entry, "mediaType: application/vnd.oci.image.manifest.v1+json", "mediaType: text/plain")
    artifact = board_artifact(registry, "online/not-an-image")
    write_entry(local_catalog, "not-an-image", [container(artifact, "aarch64")])
    result, _ = run_online(local_catalog, registry)
    assert [(p.field, p.message) for p in result.problems] == [
        (
            "spec.variants[0].container.ref",
            f"{artifact.ref} is an OCI artifact in the registry, not a container image",
        ),
        (
            "spec.variants[0].container.mediaType",
            "the registry says 'application/vnd.oci.image.manifest.v1+json'",
        ),
        (
            "spec.variants[0].container.size",
            f"the manifest is {image.size} bytes in the registry, not {image.size + 5}",
        ),
    ]


# --- a registry that cannot be checked ----------------------------------------------------------


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_stopped_registry_exits_4_and_changes_nothing(
    own_registry: LocalRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = empty_catalog(
        tmp_path / "catalog", {"own": registry_manifest("own", own_registry.host)}
    )
    index = push_index(own_registry, "online/outage", "1.0")
    write_entry(catalog, "outage", [container(i) for i in index.images], index=index)
    write_entry(catalog, "outage-single", [container(push_image(own_registry, "online/o", "v"))])
    before = _snapshot(catalog)
    own_registry.stop()

    code, out = validate(catalog, capsys, "--retries", "0")
    assert code == 4
    lines = out.splitlines()
    assert lines[0].startswith(
        f"not checked: outage@1.0: registry own ({own_registry.host}) could not be reached for "
    )
    assert lines[1].startswith("not checked: outage-single@1.0: registry own")
    assert lines[-2] == (
        f"{catalog}: 2 entries could not be checked online (retry) "
        "(2 images, 1 registry, online checks)"
    )
    # Connection refused: the hint suggests checking fewer entries (the shipped examples').
    assert lines[-1].startswith(f"hint: {own_registry.host} could not be reached from here")
    assert _snapshot(catalog) == before

    code, out = validate(catalog, capsys, "--retries", "0", "--format", "json")
    report = json.loads(out)
    assert (code, report["valid"], report["online"], len(report["unchecked"])) == (4, True, True, 2)

    # A catalog error as well: exit 1, and the report still says what could not be checked.
    (catalog / "images/outage/2.0.yaml").write_text("a: [\n")
    code, out = validate(catalog, capsys, "--retries", "0")
    assert code == 1
    assert "not checked: outage@1.0: registry own" in out
    assert "1 problem in 1 file; 2 entries could not be checked online (retry)" in out


def test_one_outage_does_not_wait_out_retries_for_every_manifest(
    own_registry: LocalRegistry, tmp_path: Path
) -> None:
    catalog = empty_catalog(
        tmp_path / "catalog", {"own": registry_manifest("own", own_registry.host)}
    )
    for n in range(5):
        write_entry(catalog, f"down-{n}", [container(push_image(own_registry, "online/d", None))])
    own_registry.stop()
    result, client = run_online(catalog, own_registry, workers=1)
    assert len(result.unchecked) == 5
    assert result.registries == []
    assert client.calls == 4  # the first manifest, with its 3 retries; the others are skipped
    assert "(after 4 attempts)" in result.unchecked[0]
    assert all("could not be reached earlier in this run" in u for u in result.unchecked[1:])


# --- credentials through the command line -------------------------------------------------------


def _auth_catalog(tmp_path: Path, registry: LocalRegistry, auth: dict[str, str]) -> Path:
    declared = registry_manifest("private", registry.host, auth)
    catalog = empty_catalog(tmp_path / "catalog", {"private": declared})
    image = push_image(registry, f"online/{auth['method'].lower()}", None)
    write_entry(catalog, "private", [container(image)])
    return catalog


def test_environment_credentials_from_the_command_line(
    auth_registry: LocalRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    auth = {"method": "environment", "usernameVariable": "U", "passwordVariable": "P"}
    catalog = _auth_catalog(tmp_path, auth_registry, auth)
    monkeypatch.setenv("U", "serviceaccount")
    monkeypatch.setenv("P", REGISTRY_PASSWORD)
    code, out = validate(catalog, capsys)
    assert code == 0, out
    monkeypatch.setenv("P", "not-the-password")
    code, out = validate(catalog, capsys, "--format", "json")
    assert code == 4
    [reason] = json.loads(out)["unchecked"]
    assert reason.startswith(f"private@1.0: registry private ({auth_registry.host}) refused")
    assert "not-the-password" not in out


@pytest.mark.parametrize("form", ["text", "json", "github"])
def test_service_account_token_never_appears_in_outputs(
    auth_registry: LocalRegistry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    form: str,
) -> None:
    token = tmp_path / "token"
    token.write_text(REGISTRY_PASSWORD)
    catalog = _auth_catalog(
        tmp_path, auth_registry, {"method": "serviceAccountToken", "tokenPath": str(token)}
    )
    code, out = validate(catalog, capsys, "--format", form)
    assert code == 0, out
    token.write_text(REGISTRY_PASSWORD + "-expired")
    code, out = validate(catalog, capsys, "--format", form)
    assert code == 4
    assert "refused access" in out
    assert REGISTRY_PASSWORD not in out


def test_missing_skopeo_is_explained(
    local_catalog: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, out = validate(local_catalog, capsys)
    assert code == 4
    assert out.endswith("install skopeo: apt-get install skopeo\n")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_shown_on_a_terminal_only(
    registry: LocalRegistry,
    local_catalog: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("tty-a", "tty-b"):
        write_entry(local_catalog, name, [container(push_image(registry, f"online/{name}", "v"))])
    code, out = validate(local_catalog, capsys)  # captured stderr is no terminal
    assert (code, out) == (
        0,
        f"{local_catalog}: the catalog is valid (2 images, 1 registry, online checks)\n",
    )
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["validate", "--online", "--catalog", str(local_catalog)]) == 0
    assert terminal.getvalue() == (
        "\rchecking online: 1/2 entries\rchecking online: 2/2 entries\r\033[K"
    )


@pytest.mark.git
def test_a_change_cannot_point_the_registry_credentials_elsewhere(
    tmp_path: Path,
    auth_registry: LocalRegistry,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SECURE_USER", "serviceaccount")
    monkeypatch.setenv("SECURE_PASSWORD", REGISTRY_PASSWORD)
    monkeypatch.setenv("OTHER_PASSWORD", REGISTRY_PASSWORD)
    auth = {"method": "environment", "usernameVariable": "SECURE_USER"}
    work = GitWork(tmp_path / "repo")
    registry_file = {
        "secure": registry_manifest(
            "secure", auth_registry.host, {**auth, "passwordVariable": "SECURE_PASSWORD"}
        )
    }
    catalog = empty_catalog(work.root / "catalog", registry_file)
    work.commit("Catalog with a registry that needs credentials")
    work.branch("change")
    image = push_image(auth_registry, "online/secure", "1.0")
    write_entry(catalog, "secure", [container(image)])
    args = ["--base", "main"]
    assert validate(catalog, capsys, *args)[0] == 0  # the base's registry: credentials are used
    (catalog / "registries/secure.yaml").write_text(
        registry_manifest(
            "secure", auth_registry.host, {**auth, "passwordVariable": "OTHER_PASSWORD"}
        )
    )
    code, out = validate(catalog, capsys, *args)
    assert code == 4, out  # checked without credentials: the registry refuses, checks incomplete
    assert (
        f"{catalog}: registry secure is new or changed since the base: its entries are checked "
        "without credentials until the change is merged (warning)"
    ) in out
