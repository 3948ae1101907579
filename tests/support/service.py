"""What every service a test starts on loopback shares: `with` starts it and always closes it,
even when starting fails half way (a port taken, a process that would not come up)."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Service:
    """A service with `start` and `close`; `close` must be safe to call more than once."""

    def start(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
