"""`image-catalog check`: entry health against a real registry on loopback, with its history."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from image_catalog.cli import main
from image_catalog.commands import check as check_command
from image_catalog.health import check as health
from image_catalog.health.observe import EntryObservation, Observation, VariantObservation
from image_catalog.site.contract import Check, Shard, StatusDoc
from image_catalog.site.status import decode
from support.catalogs import empty_catalog, registry_manifest
from support.oci import push_image, push_index
from support.pushed import board_artifact, container, disk, write_entry
from support.registry import REGISTRY_PASSWORD, LocalRegistry
from support.site import SiteServer

T0 = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)


def check(catalog: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["check", "--catalog", str(catalog), "--retries", "0", *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def status_of(path: Path) -> StatusDoc:
    return decode(path.read_bytes(), str(path))


def states(status: StatusDoc) -> dict[str, str]:
    return {e.id: e.state for e in status.entries}


def run(
    catalog: Path, when: dt.datetime, previous: Path | None = None, **options: Any
) -> StatusDoc:
    """One scripted check at `when`, its status written to `previous` for the next one."""
    settings = check_command.CheckSettings(
        catalog=catalog,
        previous=str(previous) if previous is not None and previous.exists() else None,
        retries=0,
        **options,
    )
    result = check_command.check(settings, clock=lambda: when)
    if previous is not None:
        health.write(previous, result.status)
    return result.status


# --- states against a real registry --------------------------------------------------------------


def test_all_available_exit_0_and_each_manifest_fetched_once(
    registry: LocalRegistry, local_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = push_index(registry, "check/multi", "1.0")
    write_entry(local_catalog, "multi", [container(i) for i in index.images], index=index)
    write_entry(local_catalog, "single", [container(push_image(registry, "check/single", "v"))])
    board = board_artifact(registry, "check/board")
    write_entry(local_catalog, "board", [disk(board)], distro="autosd10", targets=("ridesx4",))

    result = check_command.check(
        check_command.CheckSettings(catalog=local_catalog), clock=lambda: T0
    )
    # The index fetched by its tag is the pinned index: 3 manifests for it, 1 + config, 1 disk.
    assert (result.observation.manifests, result.observation.configs) == (5, 1)
    assert result.observation.calls == 6
    assert result.exit_code == 0
    status = result.status
    assert states(status) == {
        "board@1.0": "available",
        "multi@1.0": "available",
        "single@1.0": "available",
    }
    multi = status.entry("multi", "1.0")
    assert multi is not None
    assert [(v.architecture, v.state, v.since) for v in multi.variants] == [
        ("x86_64", "available", T0),
        ("aarch64", "available", T0),
    ]
    assert (multi.since, multi.last_available, multi.consecutive_failures) == (T0, T0, 0)
    assert (multi.availability_24h, multi.tag_moved) == (1.0, [])
    assert (status.figures.entries, status.figures.available_now) == (3, 1.0)
    assert status.figures.states["available"] == 3

    out = tmp_path / "status.json"
    code, text = check(local_catalog, capsys, "--out", str(out))
    assert code == 0, text
    assert text.startswith("checked 3 entries at ")
    assert text.endswith(": 3 available; available now 100.0%, over 24 h 100.0%\n")
    assert states(status_of(out)) == states(status)

    # The status as JSON on standard output, however it is asked for (a later time each run).
    documents = []
    for spelling in (["--format", "json"], ["--json"]):
        code, text = check(local_catalog, capsys, *spelling)
        assert code == 0, text
        documents.append(json.loads(text))
    # The document --out writes: every entry available, so no state is stated.
    assert [{e["id"]: e.get("state") for e in d["entries"]} for d in documents] == [
        {"board@1.0": None, "multi@1.0": None, "single@1.0": None}
    ] * 2
    assert documents[0].keys() == documents[1].keys()


def test_deleted_manifest_is_missing_exit_1_and_the_entry_stays(
    registry: LocalRegistry,
    local_catalog: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    index = push_index(registry, "check/deleted", "1.0")
    write_entry(local_catalog, "deleted", [container(i) for i in index.images], index=index)
    write_entry(local_catalog, "kept", [container(push_image(registry, "check/kept", "v"))])
    gone = index.images[1]
    registry.delete_manifest("check/deleted", gone.digest)
    out = tmp_path / "status.json"
    code, text = check(local_catalog, capsys, "--out", str(out))
    assert code == 1, text
    status = status_of(out)
    assert states(status) == {"deleted@1.0": "missing", "kept@1.0": "available"}
    entry = status.entry("deleted", "1.0")
    assert entry is not None
    assert [(v.architecture, v.state) for v in entry.variants] == [
        ("x86_64", "available"),
        ("aarch64", "missing"),
    ]
    assert entry.detail == (
        f"spec.variants[1].container.ref: {gone.ref} was not found in registry local "
        f"({registry.host}): it was deleted or never pushed; push it again, or deprecate this "
        "version"
    )
    lines = text.splitlines()
    assert lines[0].startswith("deleted@1.0: missing since ")
    assert lines[1].startswith("  aarch64: missing since ")
    assert "1 available, 1 missing; available now 50.0%" in lines[-1]
    assert (local_catalog / "images/deleted/1.0.yaml").exists()

    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, text = check(local_catalog, capsys, "--format", "github")
    assert code == 1
    assert text.splitlines()[0].startswith("::error title=deleted@1.0::deleted@1.0: missing since ")
    table = summary.read_text().splitlines()
    assert table[0].startswith("### Catalog health at ")
    assert table[4:6] == ["| available | 1 |", "| missing | 1 |"]
    assert table[-1] == "Available now: 50.0%; over 24 hours: 50.0%."
    # A deprecated version that left its registry is reported, but fails nothing.
    deprecated = local_catalog / "images/deleted/1.0.yaml"
    deprecated.write_text(
        deprecated.read_text().replace(
            "  publishedAt:",
            "  lifecycle:\n    deprecated: {reason: Withdrawn, date: 2026-02-01}\n  publishedAt:",
        )
    )
    code, text = check(local_catalog, capsys, "--format", "github")
    assert code == 0, text
    assert text.splitlines()[0].startswith(
        "::warning title=deleted@1.0::deleted@1.0: missing since "
    )
    assert "(deprecated)" in text.splitlines()[0]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


class _Terminal(io.StringIO):
    """A terminal on stderr; it runs `on_write` the first time the progress reaches `at`."""

    def __init__(self, at: str = "", on_write: Any = None) -> None:
        super().__init__()
        self.at, self.on_write = at, on_write

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.on_write is not None and self.at and self.at in text:
            self.on_write()
            self.on_write = None
        return super().write(text)


def test_registry_stopped_mid_run_is_unreachable_exit_4_and_only_the_status_is_written(
    own_registry: LocalRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    catalog = empty_catalog(
        tmp_path / "catalog", {"own": registry_manifest("own", own_registry.host)}
    )
    for name in ("a-first", "b-second", "c-third"):
        write_entry(catalog, name, [container(push_image(own_registry, f"check/{name}", "v"))])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = _snapshot(catalog)
    # The progress line of the first entry stops the registry: the others meet an outage.
    terminal = _Terminal("1/3", own_registry.stop)
    monkeypatch.setattr(sys, "stderr", terminal)
    code = main(
        [
            "check",
            "--catalog",
            str(catalog),
            "--retries",
            "0",
            "--workers",
            "1",
            "--out",
            str(out_dir / "status.json"),
        ]
    )
    assert code == 4
    assert terminal.getvalue().endswith("\rchecking: 3/3 entries\r\033[K")
    status = status_of(out_dir / "status.json")
    assert states(status) == {
        "a-first@1.0": "available",
        "b-second@1.0": "unreachable",
        "c-third@1.0": "unreachable",
    }
    entry = status.entry("b-second", "1.0")
    assert entry is not None
    assert entry.detail is not None
    assert entry.detail.startswith(f"registry own ({own_registry.host}) could not be reached")
    assert entry.variants[0].state == "unreachable"
    assert _snapshot(catalog) == before
    assert sorted(p.name for p in out_dir.iterdir()) == ["status.json"]
    assert "1 available, 2 unreachable" in capsys.readouterr().out


def test_moved_tag_is_noted_and_the_entry_stays_available(
    registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = push_image(registry, "check/moving", "stable")
    variant = container(old)
    variant["container"]["tag"] = "stable"
    write_entry(local_catalog, "moving", [variant])
    index = push_index(registry, "check/moving-index", "2.0")
    write_entry(local_catalog, "moving-index", [container(i) for i in index.images], index=index)
    code, text = check(local_catalog, capsys)
    assert (code, text.count("tag ")) == (0, 0), text

    new = push_image(registry, "check/moving", "stable")
    result = check_command.check(
        check_command.CheckSettings(catalog=local_catalog), clock=lambda: T0
    )
    assert result.exit_code == 0
    entry = result.status.entry("moving", "1.0")
    assert entry is not None
    assert entry.state == "available"
    [moved] = entry.variants[0].tag_moved
    assert (moved.field, moved.tag, moved.digest) == (
        "spec.variants[0].container",
        "stable",
        new.digest,
    )
    code, text = check(local_catalog, capsys)
    assert code == 0
    assert text.splitlines()[0] == (
        f"moving@1.0: tag stable of spec.variants[0].container now names {new.digest}; the "
        "pinned digest is what counts"
    )
    code, text = check(local_catalog, capsys, "--format", "github")
    assert text.splitlines()[0].startswith("::notice title=moving@1.0::tag stable of ")


def test_revoked_credentials_are_unauthorized_and_never_shown(
    auth_registry: LocalRegistry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = tmp_path / "token"
    token.write_text(REGISTRY_PASSWORD)
    auth = {"method": "serviceAccountToken", "tokenPath": str(token)}
    catalog = empty_catalog(
        tmp_path / "catalog", {"private": registry_manifest("private", auth_registry.host, auth)}
    )
    write_entry(catalog, "private", [container(push_image(auth_registry, "check/private", None))])
    out = tmp_path / "status.json"
    assert check(catalog, capsys, "--out", str(out))[0] == 0
    token.write_text(REGISTRY_PASSWORD + "-revoked")
    for form in ("text", "json", "github"):
        code, text = check(catalog, capsys, "--out", str(out), "--format", form)
        assert code == 4, text
        assert REGISTRY_PASSWORD not in text
    assert REGISTRY_PASSWORD not in out.read_text()
    entry = status_of(out).entry("private", "1.0")
    assert entry is not None
    assert (entry.state, entry.variants[0].state) == ("unauthorized", "unauthorized")
    assert entry.detail is not None
    assert "refused access" in entry.detail


# --- history -------------------------------------------------------------------------------------


def test_failures_in_a_row_are_counted_reset_and_fail_after_n(
    own_registry: LocalRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = empty_catalog(
        tmp_path / "catalog", {"own": registry_manifest("own", own_registry.host)}
    )
    write_entry(catalog, "flaky", [container(push_image(own_registry, "check/flaky", "v"))])
    history = tmp_path / "status.json"
    seen = []
    # Down every other hour, then down for good.
    for hour, up in enumerate([True, False, True, False, False, False, True]):
        if up:
            own_registry.start()
        else:
            own_registry.stop()
        status = run(catalog, T0 + dt.timedelta(hours=hour), history, fail_after=3)
        entry = status.entries[0]
        seen.append((entry.state, entry.consecutive_failures, entry.since.hour, entry.observed))
    assert seen == [
        ("available", 0, 10, "available"),
        ("unreachable", 1, 11, "unreachable"),
        ("available", 0, 12, "available"),
        ("unreachable", 1, 13, "unreachable"),
        ("unreachable", 2, 13, "unreachable"),
        ("failed", 3, 15, "unreachable"),
        ("available", 0, 16, "available"),
    ]
    assert entry.last_available == T0 + dt.timedelta(hours=6)
    assert entry.availability_24h == pytest.approx(3 / 7)
    own_registry.stop()
    run(catalog, T0 + dt.timedelta(hours=7), history, fail_after=1)
    code, text = check(catalog, capsys, "--previous", str(history), "--fail-after", "1")
    assert code == 1, text
    assert text.splitlines()[0].startswith("flaky@1.0: failed since 2026-03-01T17:00:00Z (2 failed")
    assert "last: unreachable" in text.splitlines()[0]


def _observation(*states: str) -> Observation:
    entries = [
        EntryObservation(
            name=f"e{i}",
            version="1",
            state=state,  # type: ignore[arg-type]
            deprecated=False,
            variants=(VariantObservation("x86_64", state),),  # type: ignore[arg-type]
        )
        for i, state in enumerate(states)
    ]
    return Observation(entries=entries)


def test_availability_over_24_hours_from_a_scripted_history() -> None:
    previous = None
    # 30 hourly checks; e0 is down at hours 0-5 (outside the window at the end) and 27, e1 at
    # every third hour.
    for hour in range(30):
        e0 = "unreachable" if hour < 6 or hour == 27 else "available"
        e1 = "missing" if hour % 3 == 0 else "available"
        previous = health.record(
            _observation(e0, e1),
            previous,
            now=T0 + dt.timedelta(hours=hour),
            fail_after=5,
            shard=None,
            catalog_ids=["e0@1", "e1@1"],
        )
    assert previous is not None
    e0, e1 = previous.entries
    assert len(e0.record) == 24  # hours 6..29: the checks of the last 24 hours
    assert e0.record[0].at == T0 + dt.timedelta(hours=6)
    assert e0.availability_24h == pytest.approx(23 / 24)
    assert e1.availability_24h == pytest.approx(16 / 24)  # hours 6..29: 8 of them divisible by 3
    assert previous.figures.availability_24h == pytest.approx((23 / 24 + 16 / 24) / 2)
    assert (previous.figures.available_now, previous.figures.states["missing"]) == (1.0, 0)
    # Since when: e0 has been available since hour 28.
    assert e0.since == T0 + dt.timedelta(hours=28)
    assert e0.last_available == T0 + dt.timedelta(hours=29)
    # A gap in the history (no check for two days) leaves only the new check.
    later = health.record(
        _observation("available", "available"),
        previous,
        now=T0 + dt.timedelta(hours=80),
        fail_after=5,
        shard=None,
        catalog_ids=["e0@1", "e1@1"],
    )
    assert [len(e.record) for e in later.entries] == [1, 1]
    assert later.figures.availability_24h == 1.0


# --- shards --------------------------------------------------------------------------------------


def test_shards_cover_every_entry_once_and_merge_refuses_gaps_and_overlaps(
    registry: LocalRegistry, local_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for n in range(9):
        own = push_image(registry, f"check/sharded-{n}", "v")
        write_entry(local_catalog, f"sharded-{n}", [container(own)], version=f"1.{n}")
    files = []
    for index in (1, 2, 3):
        out = tmp_path / f"shard-{index}.json"
        code, text = check(local_catalog, capsys, "--shard", f"{index}/3", "--out", str(out))
        assert code == 0, text
        assert f"(shard {index}/3)" in text
        files.append(out)
    parts = [set(states(status_of(f))) for f in files]
    assert all(parts)  # nine entries hashed by name over three shards: none is empty here
    assert sum(len(p) for p in parts) == 9
    assert set.union(*parts) == {f"sharded-{n}@1.{n}" for n in range(9)}
    # Deterministic: the same split on another run.
    again = tmp_path / "again.json"
    check(local_catalog, capsys, "--shard", "2/3", "--out", str(again))
    assert set(states(status_of(again))) == parts[1]

    merged = tmp_path / "status.json"
    assert main(["check", "merge", *map(str, files), "--out", str(merged), "--json"]) == 0
    aliased = capsys.readouterr().out
    assert main(["check", "merge", *map(str, files), "--out", str(merged), "--format", "json"]) == 0
    assert capsys.readouterr().out == aliased
    assert json.loads(aliased) == json.loads(merged.read_bytes())
    status = status_of(merged)
    assert status.shard is None
    assert [e.id for e in status.entries] == [f"sharded-{n}@1.{n}" for n in range(9)]
    assert status.figures.entries == 9
    capsys.readouterr()

    code = main(["check", "merge", str(files[0]), str(files[2]), "--out", str(merged)])
    assert code == 1
    assert capsys.readouterr().err == (
        "error: refusing to merge: the shards must cover every entry exactly once:\n"
        "  shard 2/3 missing\n"
    )
    code = main(["check", "merge", *map(str, files), str(again), "--out", str(merged)])
    assert code == 1
    err = capsys.readouterr().err
    assert f"  shard 2/3 is given twice: {files[1]} and {again}\n" in err
    assert f"is in both {files[1]} and {again}" in err
    # A shard of another catalog (one entry more) is refused too.
    write_entry(local_catalog, "late", [container(push_image(registry, "check/late", "v"))])
    other = tmp_path / "other.json"
    check(local_catalog, capsys, "--shard", "3/3", "--out", str(other))
    code = main(["check", "merge", str(files[0]), str(files[1]), str(other), "--out", str(merged)])
    assert code == 1
    assert f"  {other} checked another catalog than {files[0]}\n" in capsys.readouterr().err
    assert status_of(merged).figures.entries == 9  # the refused merges wrote nothing


def test_shard_must_be_i_of_n(local_catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("0/3", "4/3", "x", "1/0"):
        with pytest.raises(SystemExit) as exit_info:
            main(["check", "--catalog", str(local_catalog), "--shard", bad])
        assert exit_info.value.code == 2
    assert "is not a shard I/N" in capsys.readouterr().err
    assert [health.in_shard(f"x@{n}", Shard(index=1, count=1)) for n in range(3)] == [True] * 3


# --- the previous status -------------------------------------------------------------------------


def test_previous_status_errors_are_explained(
    local_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = check(local_catalog, capsys, "--previous", str(tmp_path / "none.json"))
    assert (code, text.startswith(f"error: {tmp_path / 'none.json'}: cannot read")) == (2, True)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schemaVersion": 1, "kind": "Status", "checkedAt": "yesterday"}))
    code, text = check(local_catalog, capsys, "--previous", str(bad))
    assert code == 1
    assert text == (
        f"error: {bad}: not a valid Status document: checkedAt: Invalid RFC3339 encoded datetime\n"
    )
    bad.write_text(json.dumps({"schemaVersion": 9, "kind": "Status"}))
    code, text = check(local_catalog, capsys, "--previous", str(bad))
    assert (code, text) == (
        1,
        f"error: {bad}: schemaVersion 9 is not supported (this image-catalog reads "
        "schemaVersion 2): upgrade image-catalog\n",
    )
    bad.write_text(json.dumps({"schemaVersion": 1, "kind": "Index"}))
    code, text = check(local_catalog, capsys, "--previous", str(bad))
    assert text == f"error: {bad}: a document of kind 'Index' where kind 'Status' belongs\n"


def test_previous_status_from_the_published_site(
    registry: LocalRegistry,
    local_catalog: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    write_entry(local_catalog, "served", [container(push_image(registry, "check/served", "v"))])
    with SiteServer(site) as server:
        url = server.url + "status.json"
        # The first check of a new site: no status yet, so no history, and a warning.
        code, text = check(local_catalog, capsys, "--previous", url)
        assert code == 0, text
        assert f"warning: {url} has no status yet (404): starting without history" in text
        first = run(local_catalog, T0, site / "status.json")
        assert first.entries[0].record == [Check(T0, "available")]
        later = check_command.check(
            check_command.CheckSettings(catalog=local_catalog, previous=url),
            clock=lambda: T0 + dt.timedelta(hours=1),
        )
        entry = later.status.entries[0]
        assert (entry.since, len(entry.record), later.warnings) == (T0, 2, [])
        assert server.count("status.json", 200) == 1
    # A site that cannot be reached is no reason to start the history afresh: exit 4.
    code, text = check(local_catalog, capsys, "--previous", url)
    assert code == 4
    assert text.startswith(f"error: {url} could not be reached (")
