"""The site before the live one, kept beside it so that the next build updates it in place.

A build writes a whole site into a staging folder and swaps it with the live one in one step
(`writer.swap_in`). Making that folder from nothing costs a folder per image and a file (or a link
to the live file) per document, and removing the replaced site afterwards costs as much again:
most of a build after a small change. So the replaced site is not removed: it is kept as
`.NAME.previous` beside `--out` (NAME being the site folder's name), and the next build takes it
as its staging folder and changes only the files that differ from what it needs (see
`writer.SiteWriter`). Its unchanged files are hard links to the live site's, so it costs little
disk.

What readers see is unchanged: the site at `--out` is still replaced in one step, and a failed
build leaves it as it was. The kept folder is private to the builds: it is claimed with one rename
into the build's locked scratch folder, its SHA256SUMS (what it holds) is removed before anything
in it changes, and a build that fails or is killed leaves it in the scratch folder, which is then
removed, so a half-updated folder is never used again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

from image_catalog.site.sums import SUMS_FILE

_SUFFIX = ".previous"


def spare_path(out: Path) -> Path:
    """Where the site replaced by the last build into `out` is kept."""
    return out.with_name(f".{out.name}{_SUFFIX}")


def can_update(out: Path) -> bool:
    """Whether a build into `out` would start from a kept earlier site (see `claim_spare`)."""
    spare = spare_path(out)
    return spare.is_dir() and not spare.is_symlink() and (out / SUMS_FILE).is_file()


def claim_spare(out: Path, staging: Path) -> bool:
    """Move the kept earlier site to `staging` (which must not exist); True if it is there and
    can be updated, else `staging` does not exist either."""
    spare = spare_path(out)
    if not (out / SUMS_FILE).is_file():
        return False  # nothing live to update it against: left for a later build
    try:
        info = os.lstat(spare)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return False  # not one this user's builds made: left alone
    try:
        os.rename(spare, staging)
    except OSError:
        return False  # another build took it first
    usable = (staging / SUMS_FILE).is_file()
    if not usable:
        shutil.rmtree(staging, ignore_errors=True)
    return usable


def keep_spare(old: Path, out: Path) -> None:
    """Keep `old`, the site just replaced at `out`, for the next build; removed if it cannot be."""
    if not old.is_dir() or old.is_symlink():
        return
    with contextlib.suppress(OSError):
        os.rename(old, spare_path(out))  # refused if another build kept one meanwhile
        return
    shutil.rmtree(old, ignore_errors=True)
