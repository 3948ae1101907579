"""Health in the index: `index build --status`, `query --available` and `show` with states."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from image_catalog.cli import main
from image_catalog.reader.client import IndexClient, NotInIndex, Query
from image_catalog.site.status import decode as decode_status
from support.health import T0, build, checked
from support.registry import LocalRegistry
from support.site import site_bytes as files

LEGACY = Path(__file__).parent.parent / "fixtures/status/v1.json"  # written by the check before


def test_index_with_status_shows_states_and_query_available_filters(
    registry: LocalRegistry,
    fleet: tuple[Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    catalog, digest = fleet
    registry.delete_manifest("health/app", digest)
    status, site = tmp_path / "status.json", tmp_path / "site"
    checked(catalog, T0, status)
    build(catalog, site, status, capsys)

    # Every entry is still in the index; the missing one says so.
    index = json.loads((site / "index.json").read_text())
    assert [(s["name"], s["version"], s["health"]) for s in index["images"]] == [
        ("app", "2.0", "missing"),
        ("app", "1.0", "available"),
        ("tool", "1.0", "available"),
    ]
    version = json.loads((site / "images/app/2.0.json").read_text())
    assert (version["health"], version["healthSince"]) == ("missing", "2026-03-01T10:00:00Z")
    assert version["variants"][0]["health"] == "missing"
    assert json.loads((site / "catalog.json").read_text())["status"] == "status.json"
    assert json.loads((site / "status.json").read_text())["figures"]["states"]["missing"] == 1

    client = IndexClient(site)
    published = client.status().doc
    assert (published.figures.states["missing"], published.checked_at) == (1, T0)
    assert [e.id for e in published.entries] == ["app@1.0", "app@2.0", "tool@1.0"]
    every = client.query(Query(all_versions=True)).images
    assert [(s.name, s.version) for s in every] == [("app", "2.0"), ("app", "1.0"), ("tool", "1.0")]
    # The newest version that is available: app 1.0, as a flashing tool needs.
    heads = client.query(Query(available=True)).images
    assert [(s.name, s.version) for s in heads] == [("app", "1.0"), ("tool", "1.0")]
    arm = client.query(Query(available=True, architecture="arm64", all_versions=True)).images
    assert [(s.name, s.version) for s in arm] == [("app", "1.0")]

    assert main(["query", "--index", str(site), "--available"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "NAME",
        "VERSION",
        "DISTRO",
        "ARCH",
        "KIND",
        "TARGETS",
        "TAGS",
        "PUBLISHED",
        "HEALTH",
    ]
    assert [line.split()[:2] + line.split()[-1:] for line in out.splitlines()[1:]] == [
        ["app", "1.0", "available"],
        ["tool", "1.0", "available"],
    ]
    assert main(["show", "--index", str(site), "app@2.0"]) == 0
    out = capsys.readouterr().out
    assert "  health         missing since 2026-03-01T10:00:00Z\n" in out
    assert "  aarch64  container  missing since 2026-03-01T10:00:00Z  pull:  " in out
    assert main(["show", "--index", str(site), "app@2.0", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["health"], shown["variants"][0]["healthSince"]) == (
        "missing",
        "2026-03-01T10:00:00Z",
    )


def test_only_a_change_of_state_changes_a_view_or_an_image_file(
    registry: LocalRegistry,
    fleet: tuple[Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    catalog, digest = fleet
    status, site = tmp_path / "status.json", tmp_path / "site"
    checked(catalog, T0, status)
    build(catalog, site, status, capsys)
    before = files(site)
    checked(catalog, T0 + dt.timedelta(hours=1), status)
    build(catalog, site, status, capsys)
    after = files(site)
    changed = sorted(path for path in before if before[path] != after[path])
    assert changed == ["SHA256SUMS", "status.json"]

    registry.delete_manifest("health/app", digest)
    checked(catalog, T0 + dt.timedelta(hours=2), status)
    build(catalog, site, status, capsys)
    later = files(site)
    changed = sorted(path for path in after if after[path] != later[path])
    assert "images/app/2.0.json" in changed
    assert "images/tool/1.0.json" not in changed
    assert "images/tool.json" not in changed
    assert "views/distro/autosd9-sig/all.json" in changed


def test_index_without_status_has_no_health_and_refuses_available(
    fleet: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog, _ = fleet
    site = tmp_path / "site"
    build(catalog, site, None, capsys)
    assert all("health" not in s for s in json.loads((site / "index.json").read_text())["images"])
    assert not (site / "status.json").exists()
    with pytest.raises(NotInIndex):
        IndexClient(site).status()
    assert main(["query", "--index", str(site), "--available"]) == 1
    assert capsys.readouterr().err == (
        f"error: the index at {site} carries no registry health (it was built without "
        "--status), so --available cannot be answered\n"
    )
    assert main(["query", "--index", str(site)]) == 0
    assert "HEALTH" not in capsys.readouterr().out


def test_index_with_status_from_cached_entries_matches_a_build_without_cache(
    registry: LocalRegistry,
    fleet: tuple[Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    catalog, digest = fleet
    registry.delete_manifest("health/app", digest)
    status, reused, fresh = tmp_path / "status.json", tmp_path / "reused", tmp_path / "fresh"
    checked(catalog, T0, status)
    build(catalog, reused, None, capsys)  # fills the cache of rendered entries
    build(catalog, reused, status, capsys)  # the states are set on the cached entries
    options = ["--no-cache", "--status", str(status)]
    code = main(["index", "build", "--catalog", str(catalog), "--out", str(fresh), *options])
    assert code == 0, capsys.readouterr().err
    assert files(reused) == files(fresh)
    assert b'"health":"missing"' in files(reused)["images/app/2.0.json"]


def test_a_status_of_schema_version_1_is_read_once_and_written_compact(
    registry: LocalRegistry,
    fleet: tuple[Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A status.json the check wrote before the compact layout (schemaVersion 1) is carried over
    by the next check and published by `index build --status`, both writing the compact layout;
    the reader gives the same status from either."""
    catalog, _ = fleet
    legacy = LEGACY.read_bytes()
    status, site = tmp_path / "status.json", tmp_path / "site"
    status.write_bytes(legacy)
    checked(catalog, T0 + dt.timedelta(hours=3), status)
    carried = json.loads(status.read_text())
    assert carried["schemaVersion"] == 2
    by_id = {e["id"]: e for e in carried["entries"]}
    # The history came over: three checks before this one, app 2.0 back after two misses.
    assert (by_id["app@1.0"]["record"], by_id["app@2.0"]["record"]) == ("aaaa", "amma")
    assert by_id["app@1.0"]["since"] == "2026-03-01T10:00:00Z"
    assert "consecutiveFailures" not in by_id["app@2.0"]

    status.write_bytes(legacy)
    build(catalog, site, status, capsys)
    published = (site / "status.json").read_bytes()
    assert json.loads(published)["schemaVersion"] == 2
    expected = decode_status(legacy, "legacy")
    assert IndexClient(site).status().doc == expected
    assert main(["show", "--index", str(site), "app@2.0"]) == 0
    assert "  health         failed since 2026-03-01T12:00:00Z\n" in capsys.readouterr().out
    (site / "status.json").write_bytes(legacy)  # a site published before the compact layout
    assert IndexClient(site).status().doc == expected
