"""Query planning on the shipped site: canonical names, the file chosen, the rows picked."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from image_catalog.errors import UsageError
from image_catalog.reader.query import (
    Query,
    RecentChoices,
    check_name,
    choose_file,
    matches,
    positions,
    resolve,
    select,
)
from image_catalog.site.contract import IndexDoc, SiteDoc, Summary
from image_catalog.site.parse import parser


@pytest.fixture(scope="module")
def site(shipped_site: Path) -> SiteDoc:
    return parser(SiteDoc)((shipped_site / "catalog.json").read_bytes(), "catalog.json")


@pytest.fixture(scope="module")
def rows(shipped_site: Path) -> list[Summary]:
    return parser(IndexDoc)((shipped_site / "index.json").read_bytes(), "index.json").images


def _names(rows: list[Summary], picked: list[int]) -> list[str]:
    return [f"{rows[i].name}@{rows[i].version}" for i in picked]


def test_resolve_turns_aliases_into_canonical_names(site: SiteDoc) -> None:
    resolved = resolve(Query(architecture="arm64", distro="cs9", target="rpi4"), site)
    assert (resolved.architecture, resolved.distro, resolved.target) == (
        "aarch64",
        "autosd9-latest-sig",
        "rpi4",
    )
    assert resolve(Query(tags=("nightly",), all_versions=True), site).tags == ("nightly",)


def test_resolve_refuses_an_unknown_value_naming_the_known_ones(site: SiteDoc) -> None:
    with pytest.raises(UsageError, match=r"unknown architecture 'arm65'.*known: x86_64, aarch64"):
        resolve(Query(architecture="arm65"), site)
    with pytest.raises(UsageError, match=r"unknown target 'rpi5'"):
        resolve(Query(target="rpi5"), site)


def test_choose_file_takes_the_smallest_view(site: SiteDoc) -> None:
    assert choose_file(Query(), site) == "latest.json"
    assert choose_file(Query(all_versions=True), site) == "index.json"
    assert choose_file(Query(), None) == "latest.json"
    # aarch64 has 6 latest rows, rpi4 one: the target's view answers.
    both = Query(architecture="aarch64", target="rpi4")
    assert choose_file(both, site) == "views/target/rpi4/latest.json"
    # --available may pass over newer versions: it reads every version.
    assert choose_file(Query(target="rpi4", available=True), site) == "views/target/rpi4/all.json"
    # Architectures have no all.json: with every version the index answers.
    assert choose_file(Query(architecture="x86_64", all_versions=True), site) == "index.json"


def test_positions_choose_each_images_head_before_filtering(rows: list[Summary]) -> None:
    heads = positions(rows, Query())
    assert len(heads) == len({rows[i].name for i in heads}) == 7
    assert "autosd10-rpi4@20260110.0812" not in _names(rows, heads)  # deprecated, not the head
    every = positions(rows, Query(all_versions=True))
    assert "autosd10-rpi4@20260110.0812" not in _names(rows, every)
    with_deprecated = positions(rows, Query(all_versions=True, include_deprecated=True))
    assert with_deprecated == list(range(len(rows)))
    assert _names(rows, positions(rows, Query(target="rpi4", all_versions=True))) == [
        "autosd10-rpi4@20260124.0805"
    ]


def test_positions_pass_over_what_available_and_schedule_leave_out(
    rows: list[Summary],
) -> None:
    newest = next(i for i, s in enumerate(rows) if s.name == "autosd10-rpi4")
    checked = list(rows)
    for i, summary in enumerate(rows):
        health = "missing" if i == newest else "available"
        checked[i] = msgspec.structs.replace(summary, health=health, deprecated=False)
    picked = _names(checked, positions(checked, Query(available=True)))
    # The image's head is then its newest available version.
    assert "autosd10-rpi4@20260110.0812" in picked
    assert "autosd10-rpi4@20260124.0805" not in picked
    tagged = [msgspec.structs.replace(s, tags=[*s.tags, "schedule-nightly"]) for s in rows[:2]]
    assert _names(tagged, positions([*tagged, *rows[2:]], Query(schedule="nightly"))) == [
        f"{s.name}@{s.version}" for s in tagged
    ]


def test_select_and_matches_apply_every_filter(rows: list[Summary]) -> None:
    chosen = select(rows, Query(architecture="x86_64", tags=("developer", "production")))
    assert [s.name for s in chosen] == ["autosd9-qemu-bootc"]
    assert select(iter(rows), Query(distro="autosd10")) == select(rows, Query(distro="autosd10"))
    qemu = next(s for s in rows if s.name == "cs9-qemu-qcow2")
    assert matches(qemu, Query(target="pc", tags=("nightly",)))
    assert not matches(qemu, Query(tags=("nightly", "production")))
    assert not matches(qemu, Query(distro="autosd10"))


def test_query_refuses_a_schedule_the_catalog_would_not_tag() -> None:
    with pytest.raises(UsageError, match="is not a ScheduledImageBuild name"):
        Query(schedule="Not A Name")


def test_check_name_refuses_what_cannot_be_a_path() -> None:
    check_name("autosd10-rpi4", "20260124.0805")
    with pytest.raises(UsageError, match="is not an image name"):
        check_name("../etc")
    with pytest.raises(UsageError, match="is not a version"):
        check_name("autosd10-rpi4", "1/2")


def test_recent_choices_answer_again_from_the_same_document(rows: list[Summary]) -> None:
    recent = RecentChoices(kept=2)
    doc = object()
    first = recent.positions(doc, rows, Query())
    first.clear()  # the caller's own list
    assert recent.positions(doc, rows, Query()) == positions(rows, Query())
    # Another document with the same rows is computed anew, past `kept` the answers are dropped.
    for query in (Query(all_versions=True), Query(distro="autosd9")):
        assert recent.positions(object(), rows, query) == positions(rows, query)
    assert recent.positions(doc, rows, Query()) == positions(rows, Query())


def test_resolve_escapes_the_known_values_a_site_names(site: SiteDoc) -> None:
    vocabulary = msgspec.structs.replace(
        site.vocabulary, architectures=["x86_64\x1b]0;owned\x07", "a\u202eb"]
    )
    hostile = msgspec.structs.replace(site, vocabulary=vocabulary)
    with pytest.raises(UsageError) as caught:
        resolve(Query(architecture="sparc"), hostile)
    assert "(known: x86_64\\x1b]0;owned\\x07, a\\u202eb; aliases: " in str(caught.value)
