"""Worker processes that end with their parent, even when the parent is killed with SIGKILL.

A spawn worker waits on a pipe whose write end it holds itself, so it would never see its parent
go: killed parents left workers (and, through them, multiprocessing's resource tracker) alive with
parent 1, holding the caller's stdout. Each worker asks the kernel for SIGKILL when its parent
dies (Linux `prctl(PR_SET_PDEATHSIG)`), then checks that the parent did not die before that.

A worker also runs the cyclic garbage collector as rarely as its parent does (the CLI raises its
threshold: each entry checked allocates thousands of short-lived, acyclic objects), with the
objects of its start-up (modules, the vocabulary) frozen out of the collector's passes.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal

_PR_SET_PDEATHSIG = 1


def start_worker(parent: int, threshold: tuple[int, int, int]) -> None:
    """A pool initializer: end with `parent`, and collect garbage with its `threshold`
    (`gc.get_threshold()` in the parent); what exists at this point is frozen."""
    die_with_parent(parent)
    # Ctrl-C reaches the whole process group: the parent alone decides what stops, and stops its
    # workers itself (a worker would otherwise die mid-task, printing a traceback).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # held back while it started
    gc.set_threshold(*threshold)
    gc.freeze()


def die_with_parent(parent: int) -> None:
    """A pool initializer: end this process when `parent` (the pid that started it) dies."""
    with contextlib.suppress(AttributeError, OSError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
