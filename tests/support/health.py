"""Health checks written into a status file, and sites built with it, for the index tests; status
documents made without a registry, as JSON to spoil one field at a time, for the hostile ones."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from image_catalog.cli import main
from image_catalog.commands import check as check_command
from image_catalog.health import check as health
from image_catalog.health.observe import EntryObservation, Observation, VariantObservation
from image_catalog.site.contract import Shard, StatusDoc, encode
from image_catalog.site.status import encode_status

T0 = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)


def checked(catalog: Path, when: dt.datetime, status: Path) -> None:
    """A check at `when` on top of the history in `status` (if any), written back to it."""
    settings = check_command.CheckSettings(
        catalog=catalog, previous=str(status) if status.exists() else None, retries=0
    )
    health.write(status, check_command.check(settings, clock=lambda: when).status)


def build(
    catalog: Path, site: Path, status: Path | None, capsys: pytest.CaptureFixture[str]
) -> str:
    extra = ["--status", str(status)] if status is not None else []
    code = main(["index", "build", "--catalog", str(catalog), "--out", str(site), *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out + captured.err


def status_json(
    ids: Sequence[str],
    *,
    when: dt.datetime = T0,
    shard: Shard | None = None,
    catalog_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The status a check at `when` writes when every entry of `ids` (NAME@VERSION) is available,
    as the JSON it is written as; `catalog_ids` is the whole catalog (default: `ids`)."""
    doc = status_doc(ids, when=when, shard=shard, catalog_ids=catalog_ids)
    parsed: dict[str, Any] = json.loads(encode_status(doc))
    return parsed


def legacy_status_json(ids: Sequence[str], *, when: dt.datetime = T0) -> dict[str, Any]:
    """The same status in the layout of schemaVersion 1, as the check wrote it before the compact
    one (each entry's record a list of [TIME, STATE], every field spelled out)."""
    parsed: dict[str, Any] = json.loads(encode(status_doc(ids, when=when)))
    assert parsed["schemaVersion"] == 1
    return parsed


def status_doc(
    ids: Sequence[str],
    *,
    when: dt.datetime = T0,
    shard: Shard | None = None,
    catalog_ids: Sequence[str] | None = None,
) -> StatusDoc:
    """The status a check at `when` makes when every entry of `ids` is available."""
    entries = [
        EntryObservation(
            name=entry_id.partition("@")[0],
            version=entry_id.partition("@")[2],
            state="available",
            deprecated=False,
            variants=(VariantObservation("x86_64", "available"),),
        )
        for entry_id in ids
    ]
    return health.record(
        Observation(entries=entries),
        None,
        now=when,
        fail_after=health.DEFAULT_FAIL_AFTER,
        shard=shard,
        catalog_ids=list(ids if catalog_ids is None else catalog_ids),
    )


def shard_files(folder: Path, ids: Sequence[str], count: int) -> list[tuple[Path, dict[str, Any]]]:
    """Each shard's status of a run over `ids` in `count` shards: the file it is to be written to
    and its JSON (written by `write_json`, after a test spoils it)."""
    shards = []
    for index in range(1, count + 1):
        shard = Shard(index=index, count=count)
        mine = [entry_id for entry_id in ids if health.in_shard(entry_id, shard)]
        shards.append(
            (folder / f"shard-{index}.json", status_json(mine, shard=shard, catalog_ids=ids))
        )
    return shards


def write_json(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document))
    return path
