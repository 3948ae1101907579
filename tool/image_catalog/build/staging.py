"""The folder one build writes its site into before the site is swapped in.

It lives in a locked scratch folder beside `--out` (`scratch.py`): what a killed build left is
removed by the next one. It is either a new folder or the kept earlier site (`spare.py`), which
the writer (`writer.py`) brings up to date. A build may open it before the catalog is known to be
valid, to write documents while other entries are still being checked; `close` then drops all of
it, so an invalid catalog or a failure leaves nothing behind and the live site as it was.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from image_catalog.build.spare import claim_spare
from image_catalog.build.writer import SiteWriter
from image_catalog.errors import CatalogError
from image_catalog.scratch import make_scratch


class SiteWriteError(CatalogError):
    """The site could not be written (disk full, permissions); the previous one is untouched."""


def write_error(out: Path, exc: OSError) -> SiteWriteError:
    return SiteWriteError(
        f"cannot write the site into {out}: {exc.strerror or exc} "
        f"({exc.filename or out}); the previous site is left as it was"
    )


class Staging:
    """A staging folder for a site to be swapped in at `out`, and the writer filling it."""

    def __init__(self, out: Path, live: dict[str, str] | None = None) -> None:
        """`live`: the SHA256SUMS of the site at `out`, when the caller has read it already."""
        self.out = out
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            # Locked while this build lives; what a killed build left is removed here.
            self._scratch = make_scratch(out.parent, f".{out.name}.build-")
        except OSError as exc:
            raise SiteWriteError(
                f"cannot write the site into {out}: {exc.strerror or exc}"
            ) from exc
        self.path = self._scratch.path / "site"
        self._written: set[str] = set()
        try:
            update = claim_spare(out, self.path)  # the site before the live one, to update
            if not update:
                os.mkdir(self.path)
                # A site is public, and a web server must read it.
                os.chmod(self.path, 0o755)  # noqa: S103
            self.writer = SiteWriter(self.path, previous=out, update=update, live=live)
        except OSError as exc:
            self._remove()
            raise write_error(out, exc) from exc
        except BaseException:
            self._remove()
            raise

    def write(self, relative: str, data: bytes, sha256: str | None = None) -> None:
        """`SiteWriter.write`, once per path: a document written early is not written again."""
        if self._first(relative):
            with self._as_write_errors():
                self.writer.write(relative, data, sha256)

    def write_packed(
        self, relative: str, file: bytes, packed: Callable[[], bytes] | None = None
    ) -> None:
        """`SiteWriter.write_packed`, once per path."""
        if self._first(relative):
            with self._as_write_errors():
                self.writer.write_packed(relative, file, packed)

    def keep_all(self, files: list[tuple[str, str, int]]) -> list[int]:
        """`SiteWriter.keep_all`, once per path (a path written already counts as kept)."""
        with self._as_write_errors():
            if not self._written:
                return self.writer.keep_all(files)
            left = [i for i, file in enumerate(files) if file[0] not in self._written]
            return [left[i] for i in self.writer.keep_all([files[i] for i in left])]

    def keep(self, relative: str, sha256: str, size: int, gz_size: int | None = None) -> bool:
        """`SiteWriter.keep`, once per path (True if written already)."""
        if relative in self._written:
            return True
        with self._as_write_errors():
            return self.writer.keep(relative, sha256, size, gz_size)

    def _first(self, relative: str) -> bool:
        """Whether `relative` is written for the first time (it then counts as written)."""
        if relative in self._written:
            return False
        self._written.add(relative)
        return True

    @contextmanager
    def _as_write_errors(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise write_error(self.out, exc) from exc

    def close(self) -> None:
        """Stop the writer and remove the folder with whatever it still holds."""
        self.writer.close(cancel=True)
        self._remove()

    def _remove(self) -> None:
        shutil.rmtree(self._scratch.path, ignore_errors=True)
        self._scratch.release()
