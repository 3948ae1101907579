"""`reader.download`: a file resumed with Range, restarted when the server ignores or refuses the
range, refused when its bytes are wrong, and a full disk said plainly."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_catalog.errors import CatalogError
from image_catalog.fsutil import RACY_NS
from image_catalog.reader.auth import Found
from image_catalog.reader.distribution import Repository
from image_catalog.reader.download import Fetched, FileFetch
from image_catalog.reader.plan import PlannedFile
from image_catalog.reader.rawcopy import write_to
from image_catalog.reader.state import Recorded, recorded, status_now
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
    count = Count()
    return fetch_with(server, out, {}, count, sha256).transferred, count


def fetch_with(
    server: HostileServer,
    out: Path,
    known: dict[str, Recorded],
    count: Count | None = None,
    sha256: str = DIGEST,
) -> Fetched:
    url = f"{server.url}v2/r/blobs/sha256:{sha256}"
    artifact = Artifact(title="disk.raw", media_type="x", sha256=sha256, size=len(DATA), url=url)
    repository = Repository(server.url, "r", Found(None, ()), Pool(2.0))
    stop = threading.Event()
    planned = PlannedFile(artifact, None)
    return FileFetch(planned, out, repository, count or Count(), stop, known).run()


def record_later(path: Path, seconds_after: float) -> Recorded:
    """The record of `path` as a pull would have made it `seconds_after` its last change."""
    info, _ = status_now(path)
    changed = max(info.st_mtime_ns, info.st_ctime_ns)
    return recorded(info, changed + int(seconds_after * 1e9), DIGEST)


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


def test_a_file_known_by_its_recorded_status_is_not_read(
    server: HostileServer, tmp_path: Path
) -> None:
    (tmp_path / "disk.raw").write_bytes(DATA)
    done = fetch_with(server, tmp_path, {"disk.raw": record_later(tmp_path / "disk.raw", 3)})
    assert (done.transferred, done.hashed, done.by_status) == (0, 0, True)
    assert server.requests == []


def test_a_status_recorded_too_soon_after_a_change_is_hashed_again(
    server: HostileServer, tmp_path: Path
) -> None:
    (tmp_path / "disk.raw").write_bytes(DATA)
    racy = record_later(tmp_path / "disk.raw", RACY_NS / 1e9 / 2)
    done = fetch_with(server, tmp_path, {"disk.raw": racy})
    assert (done.transferred, done.hashed, done.by_status) == (0, len(DATA), False)
    # Recorded again as it is now: trusted by a later pull once the change is old enough.
    assert dict(done.records)["disk.raw"] != racy


def test_a_file_changed_in_place_is_hashed_and_replaced(
    server: HostileServer, tmp_path: Path
) -> None:
    server.play(f"v2/r/blobs/sha256:{DIGEST}", blob("honour"))
    path = tmp_path / "disk.raw"
    path.write_bytes(DATA)
    known = {"disk.raw": record_later(path, 3)}
    path.write_bytes(b"\0" * len(DATA))  # same size, a new mtime
    done = fetch_with(server, tmp_path, known)
    assert (done.transferred, done.hashed, done.reused) == (len(DATA), len(DATA), False)
    assert path.read_bytes() == DATA


def test_a_full_disk_is_said_plainly(tmp_path: Path) -> None:
    with open("/dev/full", "wb", buffering=0) as full, pytest.raises(CatalogError) as caught:
        write_to(full, b"x" * 100, tmp_path / "disk.raw.part")
    assert str(caught.value) == (
        f"{tmp_path}/disk.raw.part: cannot write (No space left on device); the .part is kept, "
        "free some space and run the same command again"
    )
