"""Status files an attacker (or a broken run) hands to `check merge`, `check --previous` and
`index build --status`: shards beyond their count, forged catalog digests, renamed entries,
endless records, negative failure counts and times in the future; in the compact layout a check
writes, and (for the endless record) in the layout of schemaVersion 1, still read.

Each runs the command in a confined child: it must refuse with exit 1, name the file and the
field, and write nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from image_catalog.health.check import catalog_digest, in_shard
from image_catalog.site.contract import Shard
from support.catalogs import empty_catalog, fake_digest
from support.confined import assert_refused, run_confined
from support.health import legacy_status_json, shard_files, status_json, write_json

IDS = [f"app-{n}@1.{n}" for n in range(8)]
MERGE_REFUSED = "error: refusing to merge: the shards must cover every entry exactly once:\n"
FUTURE = "9998-01-01T00:00:00Z"


def _merge(files: list[Path], out: Path) -> Any:
    return run_confined(["check", "merge", *map(str, files), "--out", str(out)])


def _written(shards: list[tuple[Path, dict[str, Any]]]) -> list[Path]:
    return [write_json(path, document) for path, document in shards]


# --- check merge ---------------------------------------------------------------------------------


def test_merge_refuses_a_shard_beyond_its_count(tmp_path: Path) -> None:
    shards = shard_files(tmp_path, IDS, 4)
    shards[3][1]["shard"]["index"] = 5
    files, out = _written(shards), tmp_path / "status.json"
    assert_refused(
        _merge(files, out), 1, f"error: {files[3]}: shard.index: 5 is more than shard.count (4)\n"
    )
    assert not out.exists()


def test_merge_refuses_a_count_of_a_billion_without_counting_to_it(tmp_path: Path) -> None:
    shards = shard_files(tmp_path, IDS, 2)
    shards[1][1]["shard"] = {"index": 2, "count": 10**9}
    files, out = _written(shards), tmp_path / "status.json"
    assert_refused(
        _merge(files, out),
        1,
        f"error: {files[1]}: shard.count: 1000000000 is more than 1000 shards\n",
    )
    assert not out.exists()


def test_merge_refuses_shards_of_another_count(tmp_path: Path) -> None:
    shards = shard_files(tmp_path, IDS, 2)
    shards[1][1]["shard"]["count"] = 3
    files, out = _written(shards), tmp_path / "status.json"
    assert_refused(
        _merge(files, out),
        1,
        f"{MERGE_REFUSED}  {files[1]}: shard.count: 3, where {files[0]} has 2\n",
    )
    assert not out.exists()


def test_merge_recomputes_a_digest_forged_on_every_shard(tmp_path: Path) -> None:
    shards = shard_files(tmp_path, IDS, 2)
    forged = fake_digest("another catalog")
    for _, document in shards:
        document["catalogDigest"] = forged
    files, out = _written(shards), tmp_path / "status.json"
    real = catalog_digest(IDS)
    assert_refused(
        _merge(files, out),
        1,
        MERGE_REFUSED
        + "".join(
            f"  {file}: catalogDigest: {forged} is not the digest of the entries the shards "
            f"hold ({real})\n"
            for file in files
        ),
    )
    assert not out.exists()


def test_merge_refuses_a_renamed_entry_with_the_count_kept(tmp_path: Path) -> None:
    shards = shard_files(tmp_path, IDS, 2)
    document = shards[0][1]
    # A new name that hashes to the same shard: only the catalog digest can tell.
    renamed = next(
        name
        for name in (f"renamed-{n}" for n in range(100))
        if in_shard(f"{name}@1.0", Shard(index=1, count=2))
    )
    document["entries"][0].update(id=f"{renamed}@1.0")
    files, out = _written(shards), tmp_path / "status.json"
    outcome = _merge(files, out)
    assert_refused(outcome, 1, MERGE_REFUSED)
    assert (
        f"  {files[0]}: catalogDigest: {catalog_digest(IDS)} is not the digest of" in outcome.stderr
    )
    assert not out.exists()


def test_merge_shows_a_hostile_entry_id_escaped(tmp_path: Path) -> None:
    shards = shard_files(tmp_path, IDS, 2)
    for _, document in shards:
        document["entries"][0].update(id="evil\x1b[2J@1")
    files, out = _written(shards), tmp_path / "status.json"
    outcome = _merge(files, out)
    assert_refused(outcome, 1, f"  evil\\x1b[2J@1 is in both {files[0]} and {files[1]}\n")
    assert not out.exists()


def test_merge_validates_each_shard_as_a_previous_status(tmp_path: Path) -> None:
    shards = shard_files(tmp_path, IDS, 2)
    shards[1][1]["entries"][0]["consecutiveFailures"] = -1
    files, out = _written(shards), tmp_path / "status.json"
    assert_refused(
        _merge(files, out),
        1,
        f"error: {files[1]}: entries[0].consecutiveFailures: -1 is negative\n",
    )
    assert not out.exists()


# --- check --previous and index build --status ---------------------------------------------------


def _endless(document: dict[str, Any]) -> str:
    check = json.dumps(document["checks"][0])
    document["checks"] = "CHECKS"
    # Written as text: a million checks are built faster as one string than as a list.
    return json.dumps(document).replace('"CHECKS"', "[" + ",".join([check] * 10**6) + "]")


def _endless_legacy(document: dict[str, Any]) -> str:
    check = json.dumps(document["entries"][0]["record"][0])
    document["entries"][0]["record"] = "RECORD"
    return json.dumps(document).replace('"RECORD"', "[" + ",".join([check] * 10**6) + "]")


def _negative(document: dict[str, Any]) -> str:
    document["entries"][0]["consecutiveFailures"] = -3
    return json.dumps(document)


def _future(document: dict[str, Any]) -> str:
    document["entries"][0].update(since=FUTURE, lastAvailable=FUTURE)
    return json.dumps(document)


def _future_check(document: dict[str, Any]) -> str:
    document["checkedAt"] = FUTURE
    return json.dumps(document)


def _spoiled(name: str, file: Path) -> tuple[str, str]:
    """The document spoiled as `name` says, and the start of the message that refuses it."""
    spoil, message = {
        "endless": (
            _endless,
            "checks: 1000000 times, more than 1440 (24 hours of a check a minute)\n",
        ),
        "endless-legacy": (
            _endless_legacy,
            "entries[0].record: 1000000 checks, more than 1440 (24 hours of a check a minute)\n",
        ),
        "negative": (_negative, "entries[0].consecutiveFailures: -3 is negative\n"),
        "future": (_future, f"entries[0].since: {FUTURE} is in the future (now: "),
        "future-check": (_future_check, f"checkedAt: {FUTURE} is in the future (now: "),
    }[name]
    document = legacy_status_json(IDS) if name.endswith("-legacy") else status_json(IDS)
    return spoil(document), f"error: {file}: {message}"


SPOILED = ["endless", "endless-legacy", "negative", "future", "future-check"]


@pytest.mark.parametrize("name", SPOILED)
def test_check_refuses_a_previous_status_it_cannot_carry(tmp_path: Path, name: str) -> None:
    catalog = empty_catalog(tmp_path / "catalog", {})
    previous, out = tmp_path / "previous.json", tmp_path / "status.json"
    text, message = _spoiled(name, previous)
    previous.write_text(text)
    outcome = run_confined(
        ["check", "--catalog", str(catalog), "--previous", str(previous), "--out", str(out)]
    )
    assert_refused(outcome, 1, message)
    assert outcome.stderr.startswith(message)
    assert not out.exists()


def test_check_names_both_future_times(tmp_path: Path) -> None:
    catalog = empty_catalog(tmp_path / "catalog", {})
    previous = tmp_path / "previous.json"
    previous.write_text(_future(status_json(IDS)))
    outcome = run_confined(["check", "--catalog", str(catalog), "--previous", str(previous)])
    assert_refused(outcome, 1, f"\n{previous}: entries[0].lastAvailable: {FUTURE} is in the future")


@pytest.mark.parametrize("name", SPOILED)
def test_index_build_refuses_a_status_it_cannot_publish(tmp_path: Path, name: str) -> None:
    catalog = empty_catalog(tmp_path / "catalog", {})
    status, site = tmp_path / "status.json", tmp_path / "site"
    text, message = _spoiled(name, status)
    status.write_text(text)
    outcome = run_confined(
        ["index", "build", "--catalog", str(catalog), "--out", str(site), "--status", str(status)]
    )
    assert_refused(outcome, 1, message)
    assert outcome.stderr.startswith(message)
    assert not site.exists()
