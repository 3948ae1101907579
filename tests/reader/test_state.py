"""`reader.state`: a file is known by its recorded status only when the status is unchanged and
was recorded well after the file's last change; a garbled state is no state."""

from __future__ import annotations

from pathlib import Path

from image_catalog.fsutil import RACY_NS
from image_catalog.reader.state import (
    STATE_FILE,
    read_state,
    recorded,
    status_now,
    trusted,
    write_state,
)

SHA = "ab" * 32


def test_trusted_only_with_the_same_status_recorded_late_enough(tmp_path: Path) -> None:
    path = tmp_path / "disk.raw"
    path.write_bytes(b"x" * 10)
    info, _ = status_now(path)
    changed = max(info.st_mtime_ns, info.st_ctime_ns)
    late = recorded(info, changed + RACY_NS + 1, SHA)
    assert trusted(late, info, SHA)
    assert not trusted(late, info, "cd" * 32)  # the index wants other bytes
    assert not trusted(recorded(info, changed + RACY_NS, SHA), info, SHA)  # racily clean
    assert not trusted(None, info, SHA)
    path.write_bytes(b"y" * 10)
    assert not trusted(late, status_now(path)[0], SHA)


def test_a_copy_is_trusted_only_for_the_file_it_was_made_from(tmp_path: Path) -> None:
    path = tmp_path / "disk.raw"
    path.write_bytes(b"x")
    info, _ = status_now(path)
    copy = recorded(info, info.st_ctime_ns + RACY_NS + 1, SHA, source="01" * 32)
    assert trusted(copy, info, None, "01" * 32)
    assert not trusted(copy, info, None, "02" * 32)


def test_the_state_round_trips_and_a_garbled_one_is_none(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    info, at = status_now(tmp_path / "a")
    write_state(tmp_path, [("a", recorded(info, at, SHA))])
    assert read_state(tmp_path) == {"a": recorded(info, at, SHA)}
    for garbled in (b"{", b'{"files": {"a": 1}}', b"[]", b"\xff"):
        (tmp_path / STATE_FILE).write_bytes(garbled)
        assert read_state(tmp_path) == {}
    (tmp_path / STATE_FILE).unlink()
    (tmp_path / STATE_FILE).symlink_to("/dev/zero")
    assert read_state(tmp_path) == {}
