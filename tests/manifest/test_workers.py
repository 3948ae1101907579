"""Garbage collection in workers and around work that makes many lasting objects."""

from __future__ import annotations

import gc
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from image_catalog import collector
from image_catalog.catalog.incremental import check_catalog
from image_catalog.collector import paused
from image_catalog.manifest.workers import start_worker
from support.paths import SHIPPED_CATALOG


def _collector_state(_: object) -> tuple[tuple[int, int, int], int]:
    return gc.get_threshold(), gc.get_freeze_count()


def test_a_worker_takes_the_threshold_it_is_given_and_freezes_its_start_up() -> None:
    threshold = (54_321, 7, 9)
    assert gc.get_threshold() != threshold
    with ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_worker,
        initargs=(os.getpid(), threshold),
    ) as pool:
        seen, frozen = pool.submit(_collector_state, None).result()
    assert seen == threshold
    assert frozen > 0


def test_a_pause_runs_the_block_with_the_collector_off_and_freezes_nothing_by_default() -> None:
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with paused():
        assert not gc.isenabled()
        made = [object() for _ in range(100)]
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen  # a library caller's garbage stays collectable
    assert len(made) == 100


def test_after_freeze_after_pauses_a_pause_freezes_what_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(collector, "_freeze", False)
    collector.freeze_after_pauses()
    frozen = gc.get_freeze_count()
    try:
        with paused():
            made = [object() for _ in range(100)]
        assert gc.get_freeze_count() >= frozen + len(made)
    finally:
        gc.unfreeze()


def test_a_pause_leaves_a_disabled_collector_off_and_unfrozen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(collector, "_freeze", True)
    gc.disable()
    try:
        frozen = gc.get_freeze_count()
        with paused():
            pass
        assert not gc.isenabled()
        assert gc.get_freeze_count() == frozen
    finally:
        gc.enable()


def test_checking_a_catalog_from_a_library_freezes_nothing(tmp_path: Path) -> None:
    """A long-lived caller checking again and again keeps a collectable heap."""
    catalog = tmp_path / "catalog"
    shutil.copytree(SHIPPED_CATALOG, catalog)
    frozen = gc.get_freeze_count()
    for use_cache in (False, True, True):
        report, _ = check_catalog(catalog, use_cache=use_cache)
        assert report.ok
    assert gc.get_freeze_count() == frozen
    assert gc.isenabled()
