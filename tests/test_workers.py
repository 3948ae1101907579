"""Worker processes collect garbage as rarely as their parent does, with their start-up frozen."""

from __future__ import annotations

import gc
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

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
