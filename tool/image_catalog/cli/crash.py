"""The crash report of an unexpected error (exit 3): what a bug report needs, in one file.

`write_crash_log` writes $XDG_CACHE_HOME/image-catalog/crash.log (else ~/.cache/...): the versions
that matter (Python, image-catalog, skopeo, the libraries that read and write the catalog), the
command line and the traceback, so that nobody has to be asked to run the command again. Secrets
are never in it: the command line holds none by design (credentials come from files and the
environment, never from arguments), and a `user:password@` in any URL of the report is redacted
all the same. Writing it never raises: a report that cannot be written gives None, and the caller
falls back to a one-line message. This module is imported only when a command has crashed.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from image_catalog import __version__, process
from image_catalog.fsutil import atomic_write_text

# The libraries whose versions a bug report needs (distribution names).
LIBRARIES = ("msgspec", "pydantic", "ruamel.yaml", "pygit2")
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_SKOPEO_TIMEOUT = 10.0


def crash_log_path() -> Path:
    """$XDG_CACHE_HOME/image-catalog/crash.log, else ~/.cache/image-catalog/crash.log."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg if xdg else Path.home() / ".cache") / "image-catalog" / "crash.log"


def redact_urls(text: str) -> str:
    """`text` with the user information of every URL (`user:password@`) replaced."""
    return _USERINFO.sub("[redacted]@", text)


def versions() -> list[tuple[str, str]]:
    """(what, version) for Python, image-catalog, skopeo and the libraries; missing ones noted."""
    found = [
        ("python", sys.version.replace("\n", " ")),
        ("image-catalog", __version__),
        ("skopeo", skopeo_version()),
    ]
    for library in LIBRARIES:
        try:
            found.append((library, importlib.metadata.version(library)))
        except importlib.metadata.PackageNotFoundError:
            found.append((library, "not installed"))
    return found


def skopeo_version() -> str:
    """`skopeo --version`, or why there is none (a missing skopeo is noted, not an error)."""
    try:
        done = process.run(["skopeo", "--version"], timeout=_SKOPEO_TIMEOUT)
    except process.ExecutableNotFound:
        return "not installed"
    except process.ProcessError as exc:
        return f"unknown ({str(exc).splitlines()[0]})"
    text = done.stdout.decode("utf-8", "replace").strip()
    return text if done.code == 0 and text else f"unknown (exit status {done.code})"


def crash_report(error: BaseException, argv: Sequence[str]) -> str:
    """The text of the report: versions, command line, error and traceback."""
    lines = ["# image-catalog crash report", "", "## versions", ""]
    lines += [f"{what}: {version}" for what, version in versions()]
    lines += ["", "## command line", "", " ".join(argv), "", "## error", ""]
    lines.append(f"{type(error).__name__}: {error}")
    lines += ["", "## traceback", ""]
    lines.append("".join(traceback.format_exception(error)).rstrip())
    return redact_urls("\n".join(lines) + "\n")


def write_crash_log(error: BaseException, argv: Sequence[str]) -> Path | None:
    """Write the report of `error`; its path, or None when it could not be written."""
    try:
        path = crash_log_path()
        atomic_write_text(path, crash_report(error, argv))
    except Exception:  # a report that fails must not hide the error it reports
        return None
    return path
