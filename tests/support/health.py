"""Health checks written into a status file, and sites built with it, for the index tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from image_catalog.cli import main
from image_catalog.commands import check as check_command
from image_catalog.health import check as health

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
