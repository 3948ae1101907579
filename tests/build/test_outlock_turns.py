"""Builds into one `--out` take turns (`site/outlock.py`).

A build trusts the live site's SHA256SUMS from before its catalog is validated until its own site is
swapped in. Another build swapping a site in meanwhile must not leave a site whose files do not
match its SHA256SUMS: the second build waits for the lock beside `--out`. The interleavings here
are made by hooks, not by timing: a build is let on once the other one asks for the lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import image_catalog.build.pipeline as reuse
import pytest
from image_catalog.build.pipeline import build_index_reusing
from image_catalog.build.render import build_from_scratch
from image_catalog.catalog.incremental import check_and_render
from image_catalog.export.crs import ExportOptions
from support.builds import add_tagged, built_twice, same_as_fresh
from support.site import site_bytes


def _mismatches(site: Path) -> list[str]:
    """The files SHA256SUMS lists with another hash than theirs (or missing)."""
    wrong = []
    for line in (site / "SHA256SUMS").read_text().splitlines():
        if line.startswith("#"):
            continue
        digest, _, relative = line.partition("  ")
        try:
            if hashlib.sha256((site / relative).read_bytes()).hexdigest() != digest:
                wrong.append(relative)
        except OSError:
            wrong.append(f"{relative} (missing)")
    return wrong


class _Build:
    """A build run in a thread; `waiting` is set once it asks for the lock of `site`."""

    def __init__(self, site: Path, work: Callable[[], object]) -> None:
        self.site = site
        self.waiting = threading.Event()
        self.failure: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(work,), daemon=True)

    def _run(self, work: Callable[[], object]) -> None:
        try:
            work()
        except BaseException as exc:  # handed to the test's thread
            self.failure.append(exc)

    def waits_or_ends(self) -> bool:
        """Start it; True once it waits for the lock, False if it ended without waiting."""
        self.thread.start()
        for _ in range(2400):  # a bound for a build that hangs, not a measure
            if self.waiting.wait(0.05):
                return True
            if not self.thread.is_alive():
                return self.waiting.is_set()
        pytest.fail("the build neither ended nor waited for the lock")

    def join(self) -> None:
        self.thread.join()
        if self.failure:
            raise self.failure[0]


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> list[_Build]:
    """Builds whose `waiting` is set when their thread asks for their site's lock."""
    builds: list[_Build] = []
    real = fcntl.flock

    def flock(fd: int, operation: int) -> None:
        for build in builds:
            if threading.current_thread() is not build.thread or operation != fcntl.LOCK_EX:
                continue
            lock = build.site.with_name(f".{build.site.name}.lock")
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(lock))
            except OSError:
                same = False
            if same:
                build.waiting.set()
        real(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    return builds


def test_a_build_swapped_in_while_another_one_ran_does_not_break_its_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, watched: list[_Build]
) -> None:
    catalog, site, fresh = built_twice(tmp_path)
    lock = site.with_name(f".{site.name}.lock")  # beside the site, never in it; kept
    assert lock.is_file()
    assert not [p for p in site.rglob("*") if p.name.endswith(".lock")]
    add_tagged(catalog, "img1", "1.1", 1, "one")
    same_as_fresh(catalog, site, fresh)  # a site live, the one before kept beside it
    other = tmp_path / "other"
    shutil.copytree(catalog, other, ignore=shutil.ignore_patterns(".cache"))
    add_tagged(other, "img1", "1.1", 1, "two")
    live_seen: list[list[str]] = []

    def builds_of_other() -> None:
        build_index_reusing(other, site)
        add_tagged(other, "img1", "1.1", 1, "ten")  # as long: the sizes match
        build_index_reusing(other, site)

    second = _Build(site, builds_of_other)
    watched.append(second)
    real = check_and_render

    def checked(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        if threading.current_thread() is second.thread:
            live_seen.append(_mismatches(site))  # what the first build left
        elif not second.thread.is_alive() and not live_seen:
            # The first build has read the live site and validated its catalog: the other
            # builds start now, and run to their end unless they wait for this one.
            second.waits_or_ends()
        return result

    monkeypatch.setattr(reuse, "check_and_render", checked)
    build_index_reusing(catalog, site)
    second.join()
    assert _mismatches(site) == []
    assert live_seen == [[], []]
    assert second.waiting.is_set()
    shutil.rmtree(fresh)
    build_from_scratch(other, fresh)
    assert site_bytes(site) == site_bytes(fresh)


def _builders() -> dict[str, Callable[[Path, Path], object]]:
    return {
        "build_from_scratch": build_from_scratch,
        "build_index_reusing": build_index_reusing,
        "--crs": lambda catalog, out: build_index_reusing(catalog, out, export=ExportOptions()),
    }


@pytest.mark.parametrize("builder", sorted(_builders()))
def test_a_build_waits_while_another_holds_the_lock(
    tmp_path: Path, builder: str, watched: list[_Build]
) -> None:
    catalog, site, _ = built_twice(tmp_path)
    before = site_bytes(site)
    add_tagged(catalog, "img0", "1.3", 3, "changed")
    lock = site.with_name(f".{site.name}.lock")
    fd = os.open(lock, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as another build would
        build = _Build(site, lambda: _builders()[builder](catalog, site))
        watched.append(build)
        assert build.waits_or_ends(), "the build did not wait for the one holding the lock"
        assert site_bytes(site) == before
    finally:
        os.close(fd)
    build.join()
    assert site_bytes(site) != before
    assert _mismatches(site) == []
