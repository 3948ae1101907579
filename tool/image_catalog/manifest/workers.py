"""Worker processes that end with their parent, even when the parent is killed with SIGKILL.

A spawn worker waits on a pipe whose write end it holds itself, so it would never see its parent
go: killed parents left workers (and, through them, multiprocessing's resource tracker) alive with
parent 1, holding the caller's stdout. Each worker asks the kernel for SIGKILL when its parent
dies (Linux `prctl(PR_SET_PDEATHSIG)`), then checks that the parent did not die before that.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """A pool initializer: end this process when `parent` (the pid that started it) dies."""
    with contextlib.suppress(AttributeError, OSError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
