"""`index build` when the live site (or the kept earlier one) was changed by someone else.

The build keeps unchanged files by reference: it trusts the live site's SHA256SUMS to say what its
files hold, links those files into the new site and reads some of them back. Whoever can write the
live site must still not be able to make a build publish a file from elsewhere, hang, or remove
anything outside the site; and the site built stays byte for byte the one `build_index` makes.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from image_catalog.site.spare import spare_path
from test_site_reuse_files import _built_twice, _change, _same_as_fresh


@pytest.mark.parametrize("sibling_changed", [True, False])
def test_a_symbolic_link_planted_in_the_live_site_is_not_published(
    tmp_path: Path, sibling_changed: bool
) -> None:
    catalog, site, fresh = _built_twice(tmp_path)
    shutil.rmtree(spare_path(site))  # so the files are linked from the live site
    secret = tmp_path / "signing-key.pem"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY----- secret\n")
    planted = site / "images/img2/1.2.json"
    planted.unlink()
    planted.symlink_to(secret)  # SHA256SUMS still lists the document's hash
    if sibling_changed:  # images/img2.json is then made again, from that document's bytes
        _change(catalog, "img2", "1.5", 5, "changed")
    _same_as_fresh(catalog, site, fresh)
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
        with open(fifo, "wb"):
            pass  # the reader blocked on it sees its end
        thread.join()
        pytest.fail("the build waited on a FIFO planted in the live site")
    if failure:
        raise failure[0]


def test_a_fifo_planted_in_the_live_site_is_not_read(tmp_path: Path) -> None:
    catalog, site, fresh = _built_twice(tmp_path)
    shutil.rmtree(spare_path(site))  # so the document is read from the live site or rendered
    planted = site / "images/img2/1.2.json"
    planted.unlink()
    os.mkfifo(planted)
    _change(catalog, "img2", "1.5", 5, "changed")  # images/img2.json needs the document's bytes
    _finishes(lambda: _same_as_fresh(catalog, site, fresh), planted)
    assert stat.S_ISREG(os.lstat(planted).st_mode)
