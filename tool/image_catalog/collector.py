"""The cyclic garbage collector, kept away from work that makes many lasting objects.

Loading a catalog, its caches or its checked entries makes hundreds of thousands of objects that
live until the command ends and sit in no reference cycle. The collector would scan each of them
in every pass of the generations it climbs through (tenths of a second in a 20,000-entry build,
on the thread everything else waits for). Such work runs with the collector off, and what exists
after it is frozen out of later passes (`gc.freeze`): still freed by reference counting, no
longer scanned. Cycles made meanwhile are only collected by a later `gc.collect` after
`gc.unfreeze`, which a command that ends soon never needs.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_after() -> Iterator[None]:
    """Run the block with the collector off, then freeze what exists (if it was on)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.enable()
