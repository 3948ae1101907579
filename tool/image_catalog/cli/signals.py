"""SIGTERM handled as Ctrl-C is: the work stops where it is and every `finally` runs.

CI runners and process supervisors stop a job with SIGTERM; Python's default would end the process
at once, leaving temp folders and half-written files behind. Raised as an exception instead, it
unwinds the same clean-up paths as KeyboardInterrupt, and the CLI exits 143 (128 + SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""


@contextlib.contextmanager
def terminate_like_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises `Terminated` in the main thread (once: clean-up runs on)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut clean-up
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
