"""The staging folder of one build: beside `--out`, each path written once, dropped on close."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from image_catalog.build.staging import SiteWriteError, Staging, write_error


def _debris(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


def test_files_go_into_a_folder_beside_out_which_close_removes(tmp_path: Path) -> None:
    out = tmp_path / "site"
    staging = Staging(out)
    try:
        assert staging.path.parent.parent == tmp_path
        assert not out.exists()
        staging.write("images/a.json", b'{"a":1}')
        staging.writer.finish(previous=out)
        assert (staging.path / "images/a.json").read_bytes() == b'{"a":1}\n'
        digest = hashlib.sha256(b'{"a":1}\n').hexdigest()
        assert staging.writer.sums["images/a.json"] == digest
    finally:
        staging.close()
    assert _debris(tmp_path) == []


def test_a_path_is_written_once(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "site")
    try:
        staging.write("a.json", b"1")
        staging.write("a.json", b"2")  # written early already: not again
        staging.write_packed("a.json", b"3\n")
        # A path written counts as kept: nothing is asked of the live site for it.
        assert staging.keep("a.json", "0" * 64, 2)
        assert staging.keep_all([("a.json", "0" * 64, 2), ("b.json", "0" * 64, 2)]) == [1]
        staging.writer.finish(previous=tmp_path / "site")
        assert (staging.path / "a.json").read_bytes() == b"1\n"
        assert not (staging.path / "b.json").exists()
    finally:
        staging.close()


def test_nothing_is_kept_without_a_live_site(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "site", live={})
    try:
        assert not staging.keep("a.json", "0" * 64, 2)
        assert staging.keep_all([("a.json", "0" * 64, 2)]) == [0]
    finally:
        staging.close()


def test_a_folder_it_cannot_make_is_a_write_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SiteWriteError, match=f"cannot write the site into {blocker / 'site'}"):
        Staging(blocker / "site")
    assert _debris(tmp_path) == ["file"]


def test_write_errors_say_the_previous_site_is_untouched(tmp_path: Path) -> None:
    error = write_error(tmp_path / "site", OSError(28, "No space left on device", "x.json"))
    assert str(error) == (
        f"cannot write the site into {tmp_path / 'site'}: No space left on device (x.json); "
        "the previous site is left as it was"
    )
