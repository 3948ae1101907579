"""Garbage collection in workers and around work that makes many lasting objects."""

from __future__ import annotations

import gc
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from image_catalog.collector import frozen_after
from image_catalog.manifest.workers import start_worker


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


def test_frozen_after_runs_the_block_with_the_collector_off_and_freezes_what_it_made() -> None:
    assert gc.isenabled()
    made: list[object] = []
    frozen = gc.get_freeze_count()
    try:
        with frozen_after():
            assert not gc.isenabled()
            made.append([object() for _ in range(100)])
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + 100
    finally:
        gc.unfreeze()


def test_frozen_after_leaves_a_disabled_collector_off_and_unfrozen() -> None:
    gc.disable()
    try:
        frozen = gc.get_freeze_count()
        with frozen_after():
            pass
        assert not gc.isenabled()
        assert gc.get_freeze_count() == frozen
    finally:
        gc.enable()
