"""`health.check` on the statuses it is handed: a previous status is validated as of the check's
time and its record carried within bounds; shards are merged only when they are of one run and
the catalog digest they claim is the digest of the entries they hold.

(The checks against a real registry are in test_check.py.)
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from image_catalog.commands import check as check_command
from image_catalog.errors import CatalogError
from image_catalog.health import check as health
from image_catalog.health.observe import EntryObservation, Observation
from image_catalog.site.contract import Check, Shard, StatusDoc
from image_catalog.site.status import MAX_RECORD, SHOWN_PROBLEMS, decode, encode_status
from support.catalogs import empty_catalog, fake_digest
from support.health import (
    T0,
    legacy_status_json,
    shard_files,
    status_doc,
    status_json,
    write_json,
)

IDS = [f"app-{n}@1.{n}" for n in range(8)]


def shards(tmp_path: Path, count: int = 2) -> list[tuple[str, StatusDoc]]:
    return [
        (str(path), decode(json.dumps(document), str(path)))
        for path, document in shard_files(tmp_path, IDS, count)
    ]


def refusal(docs: list[tuple[str, StatusDoc]]) -> list[str]:
    with pytest.raises(CatalogError) as refused:
        health.merge(docs)
    return str(refused.value).splitlines()[1:]


# --- merging -------------------------------------------------------------------------------------


def test_the_merged_digest_is_computed_from_the_entries(tmp_path: Path) -> None:
    merged = health.merge(shards(tmp_path, 3))
    assert [e.id for e in merged.entries] == sorted(IDS)
    assert (merged.catalog_entries, merged.catalog_digest) == (8, health.catalog_digest(IDS))
    assert merged.shard is None


def test_a_merged_run_is_one_check_time_the_latest_shards(tmp_path: Path) -> None:
    """Shards start minutes apart; merged, their checks are the run's, at the latest one's time,
    so the status lists one check time a run (a letter a run in each record)."""
    earlier = T0 + dt.timedelta(hours=1)
    previous = status_doc(IDS, when=T0)
    docs = []
    for index, minutes in ((1, 3), (2, 0), (3, 7)):
        shard = Shard(index=index, count=3)
        when = earlier + dt.timedelta(minutes=minutes)
        seen = [
            EntryObservation(
                name=i.partition("@")[0],
                version=i.partition("@")[2],
                state="available",
                deprecated=False,
            )
            for i in IDS
            if health.in_shard(i, shard)
        ]
        doc = health.record(
            Observation(entries=seen),
            previous,
            now=when,
            fail_after=5,
            shard=shard,
            catalog_ids=IDS,
        )
        docs.append((f"shard-{index}.json", doc))
    run = earlier + dt.timedelta(minutes=7)
    merged = health.merge(docs)
    assert merged.checked_at == run
    assert {(e.last_checked, e.last_available) for e in merged.entries} == {(run, run)}
    assert {tuple(c.at for c in e.record) for e in merged.entries} == {(T0, run)}
    assert {e.since for e in merged.entries} == {T0}  # a time of an earlier run stays
    assert json.loads(encode_status(merged))["checks"] == [
        "2026-03-01T10:00:00Z",
        "2026-03-01T11:07:00Z",
    ]


def test_a_forged_digest_and_a_renamed_entry_do_not_match_the_entries(tmp_path: Path) -> None:
    docs = shards(tmp_path)
    forged = fake_digest("forged")
    for _, doc in docs:
        doc.catalog_digest = forged
    real = health.catalog_digest(IDS)
    assert refusal(docs) == [
        f"  {file}: catalogDigest: {forged} is not the digest of the entries the shards hold "
        f"({real})"
        for file, _ in docs
    ]
    docs = shards(tmp_path, 1)
    docs[0][1].entries[0].name = "renamed"
    [line] = refusal(docs)
    assert line.startswith(f"  {docs[0][0]}: catalogDigest: {real} is not the digest of")


def test_an_entry_outside_its_shard_and_many_problems_are_listed_briefly(tmp_path: Path) -> None:
    docs = shards(tmp_path)
    (first, one), (_, two) = docs
    one.entries, two.entries = two.entries, one.entries
    lines = refusal(docs)
    assert lines[0] == f"  {first}: entries[0]: {one.entries[0].id} is not of shard 1/2"
    # Four copies of one whole run: 3 shards given twice, 8 entries in both of 3 pairs.
    [(_, whole)] = shards(tmp_path, 1)
    lines = refusal([(f"copy-{n}.json", whole) for n in range(4)])
    assert len(lines) == SHOWN_PROBLEMS + 1
    assert lines[-1] == f"  and {3 + 3 * 8 - SHOWN_PROBLEMS} more"


def test_shards_must_agree_on_the_failure_threshold(tmp_path: Path) -> None:
    docs = shards(tmp_path)
    docs[1][1].fail_after = 3
    assert refusal(docs) == [f"  {docs[1][0]}: failAfter: 3, where {docs[0][0]} has 5"]


def test_merge_reads_each_shard_as_of_now_and_writes_nothing_when_refused(tmp_path: Path) -> None:
    files = []
    for path, document in shard_files(tmp_path, IDS, 2):
        files.append(write_json(path, document))
    out = tmp_path / "status.json"
    settings = check_command.MergeSettings(files=files, out=out)
    with pytest.raises(CatalogError) as refused:
        check_command.merge_shards(settings, clock=lambda: T0 - dt.timedelta(hours=1))
    assert str(refused.value).startswith(f"{files[0]}: checkedAt: 2026-03-01T10:00:00Z is in ")
    assert not out.exists()
    assert check_command.merge_shards(settings, clock=lambda: T0).catalog_entries == 8


# --- carrying the previous status ----------------------------------------------------------------


def test_the_record_carried_never_outgrows_what_is_read_back() -> None:
    now = T0 + dt.timedelta(hours=1)
    document = legacy_status_json(["a@1"])  # a record of its own times per entry
    minute = [[f"2026-03-01T10:{m % 60:02d}:00Z", "available"] for m in range(60)]
    document["entries"][0]["record"] = sorted(minute * (MAX_RECORD // 60))
    previous = decode(json.dumps(document), "previous")
    seen = EntryObservation(name="a", version="1", state="missing", deprecated=False)
    carried = health.record(
        Observation(entries=[seen]),
        previous,
        now=now,
        fail_after=5,
        shard=None,
        catalog_ids=["a@1"],
    )
    record = carried.entries[0].record
    assert (len(record), record[-1]) == (MAX_RECORD, Check(now, "missing"))
    assert record[:-1] == previous.entries[0].record[1:]  # the oldest check made room


def test_a_previous_status_written_after_the_check_is_refused(tmp_path: Path) -> None:
    catalog = empty_catalog(tmp_path / "catalog", {})
    previous = write_json(tmp_path / "previous.json", status_json(IDS))
    settings = check_command.CheckSettings(catalog=catalog, previous=str(previous))
    with pytest.raises(CatalogError) as refused:
        check_command.check(settings, clock=lambda: T0 - dt.timedelta(hours=1))
    assert str(refused.value).splitlines()[0] == (
        f"{previous}: checkedAt: 2026-03-01T10:00:00Z is in the future (now: 2026-03-01T09:00:00Z)"
    )
    assert check_command.check(settings, clock=lambda: T0).status.entries == []
