"""`query` and `show` as calls: the settings the command line builds, and their results."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from image_catalog.commands.query import QuerySettings, ShowSettings, query, show
from image_catalog.errors import UsageError
from image_catalog.reader.client import NotInIndex

pytestmark = pytest.mark.usefixtures("isolated_reader")


def _parsed(settings: type[QuerySettings] | type[ShowSettings], *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    settings.register_argparse_arguments(parser)
    return parser.parse_args(argv)


def test_query_settings_from_the_command_line_are_those_a_program_builds(
    shipped_site: Path,
) -> None:
    args = _parsed(
        QuerySettings,
        *("--index", str(shipped_site), "--arch", "arm64", "--tag", "nightly", "--tag", "x"),
        *("--all-versions", "--max-age", "2.5"),
    )
    assert QuerySettings.from_argparse(args) == QuerySettings(
        index=str(shipped_site),
        architecture="arm64",
        tags=("nightly", "x"),
        all_versions=True,
        max_age=2.5,
    )


def test_a_negative_max_age_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parsed(QuerySettings, "--max-age", "-1")
    assert "'-1' is not a number of seconds" in capsys.readouterr().err


def test_query_returns_the_matching_images(shipped_site: Path) -> None:
    result = query(QuerySettings(index=shipped_site, architecture="arm64", target="rpi4"))
    assert [(s.name, s.version) for s in result.images] == [("autosd10-rpi4", "20260124.0805")]
    assert result.source == str(shipped_site / "views/target/rpi4/latest.json")
    assert result.warnings == []


def test_show_settings_read_name_and_version(shipped_site: Path) -> None:
    args = _parsed(ShowSettings, "autosd10-rpi4@20260110.0812", "--index", str(shipped_site))
    settings = ShowSettings.from_argparse(args)
    assert (settings.name, settings.version) == ("autosd10-rpi4", "20260110.0812")
    assert ShowSettings.from_argparse(_parsed(ShowSettings, "autosd10-rpi4")).version is None
    with pytest.raises(UsageError, match="give NAME or NAME@VERSION"):
        ShowSettings.from_argparse(_parsed(ShowSettings, "autosd10-rpi4@"))


def test_show_returns_the_latest_version_or_the_one_asked_for(shipped_site: Path) -> None:
    latest = show(ShowSettings(name="autosd10-rpi4", index=shipped_site))
    assert (latest.version.version, latest.latest) == ("20260124.0805", "20260124.0805")
    assert latest.versions == ["20260124.0805", "20260110.0812"]
    older = show(ShowSettings(name="autosd10-rpi4", version="20260110.0812", index=shipped_site))
    assert older.version.deprecated
    with pytest.raises(NotInIndex, match="no image 'nothing'"):
        show(ShowSettings(name="nothing", index=shipped_site))
