"""`index build` when the live site (or the kept earlier one) was changed by someone else.

The build keeps unchanged files by reference: it trusts the live site's SHA256SUMS to say what its
files hold, links those files into the new site and reads some of them back. Whoever can write the
live site must still not be able to make a build publish a file from elsewhere, hang, or remove
anything outside the site; and the site built stays byte for byte the one `build_index` makes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from image_catalog.build.spare import spare_path
from support.builds import add_tagged, built_twice, same_as_fresh


@pytest.mark.parametrize("sibling_changed", [True, False])
def test_a_symbolic_link_planted_in_the_live_site_is_not_published(
    tmp_path: Path, sibling_changed: bool
) -> None:
    catalog, site, fresh = built_twice(tmp_path)
    shutil.rmtree(spare_path(site))  # so the files are linked from the live site
    secret = tmp_path / "signing-key.pem"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY----- secret\n")
    planted = site / "images/img2/1.2.json"
    planted.unlink()
    planted.symlink_to(secret)  # SHA256SUMS still lists the document's hash
    if sibling_changed:  # images/img2.json is then made again, from that document's bytes
        add_tagged(catalog, "img2", "1.5", 5, "changed")
    same_as_fresh(catalog, site, fresh)
    info = os.lstat(planted)
    assert stat.S_ISREG(info.st_mode)
    assert info.st_ino != secret.stat().st_ino
    assert secret.stat().st_nlink == 1


def _finishes(build: Callable[[], object], fifo: Path) -> None:
    """Run `build`; fail (after unblocking it) if it waits on `fifo`."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            build()
        except BaseException as exc:  # handed to the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)  # a bound for a build blocked forever, not a measure: it takes a second
    if thread.is_alive():
        for _ in range(1200):  # each reader blocked on it (it may be read again) sees its end
            with contextlib.suppress(OSError):  # ENXIO: no reader waits right now
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            thread.join(0.05)
            if not thread.is_alive():
                break
        pytest.fail("the build waited on a FIFO planted in the live site")
    if failure:
        raise failure[0]


def test_a_fifo_planted_in_the_live_site_is_not_read(tmp_path: Path) -> None:
    catalog, site, fresh = built_twice(tmp_path)
    shutil.rmtree(spare_path(site))  # so the document is read from the live site or rendered
    planted = site / "images/img2/1.2.json"
    planted.unlink()
    os.mkfifo(planted)
    add_tagged(catalog, "img2", "1.5", 5, "changed")  # images/img2.json needs the document's bytes
    _finishes(lambda: same_as_fresh(catalog, site, fresh), planted)
    assert stat.S_ISREG(os.lstat(planted).st_mode)


def test_lines_added_to_the_live_sums_never_reach_outside_the_site(tmp_path: Path) -> None:
    catalog, site, fresh = built_twice(tmp_path)
    victims = [tmp_path / "victim.txt", tmp_path / "absolute.txt"]
    for victim in victims:
        victim.write_text("precious\n")
    sums = site / "SHA256SUMS"
    added = f"{'0' * 64}  ../../victim.txt\n{'0' * 64}  {victims[1]}\n{'0' * 64}  images//x\n"
    sums.write_text(sums.read_text() + added)
    same_as_fresh(catalog, site, fresh)  # the edited site is now the kept one
    same_as_fresh(catalog, site, fresh)  # which is brought up to date in place
    assert [victim.read_text() for victim in victims] == ["precious\n"] * 2


def test_a_folder_of_the_kept_site_replaced_by_a_link_is_not_followed(tmp_path: Path) -> None:
    catalog, site, fresh = built_twice(tmp_path)
    kept = spare_path(site) / "images/img2"
    victim = tmp_path / "victim"
    shutil.copytree(kept, victim)  # the same files: the link would be kept, written through
    shutil.rmtree(kept)
    kept.symlink_to(victim)
    before = {p.name: p.read_bytes() for p in victim.iterdir()}
    (catalog / "images/img2/1.5.yaml").unlink()  # its document is removed from the kept site
    add_tagged(catalog, "img2", "1.8", 8, "changed")  # and one written into that folder
    same_as_fresh(catalog, site, fresh)
    assert {p.name: p.read_bytes() for p in victim.iterdir()} == before
    assert stat.S_ISDIR(os.lstat(site / "images/img2").st_mode)


def test_a_link_in_the_kept_site_where_a_new_folder_goes_is_not_followed(tmp_path: Path) -> None:
    catalog, site, fresh = built_twice(tmp_path)
    victim = tmp_path / "victim"
    victim.mkdir()
    (spare_path(site) / "images/img9").symlink_to(victim)  # not listed in any SHA256SUMS
    add_tagged(catalog, "img9", "1.0", 9, "new")
    same_as_fresh(catalog, site, fresh)
    assert list(victim.iterdir()) == []
    assert stat.S_ISDIR(os.lstat(site / "images/img9").st_mode)
