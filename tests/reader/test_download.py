"""`reader.download`: a file resumed with Range, restarted when the server ignores or refuses the
range, refused when its bytes are wrong, and a full disk said plainly."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_catalog.errors import CatalogError
from image_catalog.reader.auth import Found
from image_catalog.reader.distribution import Repository
from image_catalog.reader.download import FileFetch, write_to
from image_catalog.reader.plan import PlannedFile
from image_catalog.site.contract import Artifact
from image_catalog.web.connection import Pool
from support.hostile import HostileServer, Request, answer

DATA = bytes(range(256)) * 4096  # 1 MiB
DIGEST = hashlib.sha256(DATA).hexdigest()


class Count:
    def __init__(self) -> None:
        self.bytes = 0

    def started(self, title: str, total: int, present: int) -> None:
        pass

    def advanced(self, title: str, count: int) -> None:
        self.bytes += count

    def finished(self, title: str, transferred: int, reused: bool) -> None:
        pass


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as running:
        yield running


def blob(ranges: str) -> object:
    """A blob server: `honour` ranges, `ignore` them (200, whole), or `refuse` (416)."""

    def play(request: Request) -> None:
        wanted = request.headers.get("range", "")
        if not wanted or ranges == "ignore":
            request.send(answer(200, DATA))
        elif ranges == "refuse":
            request.send(answer(416, b""))
        else:
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            total = f"Content-Range: bytes {start}-{len(DATA) - 1}/{len(DATA)}"
            request.send(answer(206, DATA[start:], total))

    return play


def fetch(server: HostileServer, out: Path, sha256: str = DIGEST) -> tuple[int, Count]:
    url = f"{server.url}v2/r/blobs/sha256:{sha256}"
    artifact = Artifact(title="disk.raw", media_type="x", sha256=sha256, size=len(DATA), url=url)
    repository = Repository(server.url, "r", Found(None, ()), Pool(2.0))
    count = Count()
    done = FileFetch(PlannedFile(artifact, None), out, repository, count, threading.Event()).run()
    return done.transferred, count


@pytest.mark.parametrize(
    ("ranges", "sent"), [("honour", 700_000), ("ignore", 1 << 20), ("refuse", 1 << 20)]
)
def test_a_part_is_continued_or_restarted(
    server: HostileServer, tmp_path: Path, ranges: str, sent: int
) -> None:
    server.play(f"v2/r/blobs/sha256:{DIGEST}", blob(ranges))
    (tmp_path / "disk.raw.part").write_bytes(DATA[: len(DATA) - 700_000])
    transferred, count = fetch(server, tmp_path)
    assert transferred == sent
    assert count.bytes == 700_000  # progress moved back when the file restarted
    assert (tmp_path / "disk.raw").read_bytes() == DATA
    assert not (tmp_path / "disk.raw.part").exists()


def test_a_part_with_wrong_bytes_is_dropped(server: HostileServer, tmp_path: Path) -> None:
    server.play(f"v2/r/blobs/sha256:{DIGEST}", blob("honour"))
    (tmp_path / "disk.raw.part").write_bytes(b"\xff" * 1000)
    with pytest.raises(
        CatalogError, match=f"expected sha256:{DIGEST} \\(1048576 bytes\\), received sha256:"
    ):
        fetch(server, tmp_path)
    assert not (tmp_path / "disk.raw.part").exists()
    assert not (tmp_path / "disk.raw").exists()
    # The next run starts over, and succeeds.
    assert fetch(server, tmp_path)[0] == len(DATA)


def test_a_file_in_place_is_not_fetched(server: HostileServer, tmp_path: Path) -> None:
    (tmp_path / "disk.raw").write_bytes(DATA)
    assert fetch(server, tmp_path)[0] == 0
    assert server.requests == []


def test_a_full_disk_is_said_plainly(tmp_path: Path) -> None:
    with open("/dev/full", "wb", buffering=0) as full, pytest.raises(CatalogError) as caught:
        write_to(full, b"x" * 100, tmp_path / "disk.raw.part")
    assert str(caught.value) == (
        f"{tmp_path}/disk.raw.part: cannot write (No space left on device); the .part is kept, "
        "free some space and run the same command again"
    )
