"""The cyclic garbage collector, kept away from work that makes many lasting objects.

Loading a catalog, its caches, its checked entries or an index makes hundreds of thousands of
objects that sit in no reference cycle and live until the command ends. The collector would scan
each of them in every pass of the generations it climbs through (tenths of a second in a
20,000-entry build, on the thread everything else waits for). Such work runs `paused`: the
collector is off meanwhile.

In a process that ends with its command (the CLI, which calls `freeze_after_pauses`), what exists
when a pause ends is also frozen out of later passes (`gc.freeze`): still freed by reference
counting, never scanned again. A library caller (a long-lived service) is never frozen, since
frozen cyclic garbage would never be collected; its collector resumes where it was.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_freeze = False


def freeze_after_pauses() -> None:
    """Freeze what exists at the end of every later pause: only for a process that ends with its
    command, where objects frozen are never needed by a later collection."""
    global _freeze
    _freeze = True


@contextmanager
def paused() -> Iterator[None]:
    """Run the block with the collector off (if it was on), then freeze what exists if
    `freeze_after_pauses` was called."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if _freeze:
                gc.freeze()
            gc.enable()
