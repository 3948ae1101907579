"""The reader's path (`query`, `show`) loads nothing from the catalog's authoring side.

Each command runs in a fresh interpreter, which reports every module it imported: the ones in
`sys.modules` at exit, and the ones `-X importtime` saw (which also lists modules imported and
then removed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import SHIPPED_CATALOG
from support.site import SiteServer

# The commands inherit the environment: the user's proxy or index variables must not reach them.
pytestmark = pytest.mark.usefixtures("isolated_reader")

AUTHORING = (
    "pydantic",
    "pydantic_core",
    "ruamel",
    "yaml",
    "jinja2",
    "pygit2",
    "image_catalog.manifest",
    "image_catalog.catalog",
    "image_catalog.registry",
    "image_catalog.publish",
)

# Runs the CLI in the child, then prints the imported modules' names as JSON on the last line.
_PROBE = """
import json, sys
from image_catalog.cli import main
sys.stdout.flush()
try:
    code = main(sys.argv[1:])
except SystemExit as exit:  # --help
    code = exit.code
sys.stdout.flush()
print("\\n" + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _imported(args: list[str], tmp_path: Path) -> tuple[set[str], set[str]]:
    """(modules in sys.modules at exit, modules -X importtime reported) for one command."""
    env = {**os.environ, "IMAGE_CATALOG_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    report = json.loads(done.stdout.rstrip("\n").rpartition("\n")[2])
    assert report["code"] == 0, done.stderr[-2000:]
    timed = {
        line.rpartition("|")[2].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return set(report["modules"]), timed


def _authoring(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == a or m.startswith(f"{a}.") for a in AUTHORING))


@pytest.mark.parametrize(
    "args",
    [
        ["query", "--json"],
        ["query", "--target", "rpi4", "--all-versions"],
        ["show", "autosd10-rpi4"],
        ["query", "--help"],
        ["show", "--help"],
        ["pull", "--help"],
    ],
    ids=["query-json", "query-target", "show", "query-help", "show-help", "pull-help"],
)
def test_reader_imports_nothing_from_the_authoring_side(
    shipped_site: Path, tmp_path: Path, args: list[str]
) -> None:
    index = [] if args[-1] == "--help" else ["--index", str(shipped_site)]
    modules, timed = _imported([*args, *index], tmp_path)
    assert "image_catalog.reader.client" in modules or args[-1] == "--help"
    assert "image_catalog.site.contract" in timed
    assert _authoring(modules) == []
    assert _authoring(timed) == []
    # Other commands' modules are not loaded either, nor asked whether the authoring extra is
    # installed.
    commands = {m for m in modules if m.startswith("image_catalog.cli.")}
    assert commands <= {
        "image_catalog.cli.authoring",
        "image_catalog.cli.common",
        f"image_catalog.cli.{'pull' if args[0] == 'pull' else 'query'}_cmd",
        "image_catalog.cli.signals",
    }
    assert "importlib.util" not in timed


def test_reader_over_http_imports_nothing_from_the_authoring_side(
    shipped_site: Path, tmp_path: Path
) -> None:
    with SiteServer(shipped_site) as server:
        modules, timed = _imported(["query", "--target", "rpi4", "--index", server.url], tmp_path)
    assert "image_catalog.web.connection" in modules
    # A plain GET on a socket: none of urllib's, http.client's or TLS's modules; the cache is
    # written without tempfile, and the help formatter is not asked for the terminal's width.
    unneeded = {"urllib.request", "http.client", "email.parser", "ssl", "tempfile", "shutil"}
    assert not unneeded & (modules | timed)
    # Within --max-age the cached files answer: no connection, no socket module of the reader's.
    again, _ = _imported(
        ["query", "--target", "rpi4", "--index", server.url, "--max-age", "3600"], tmp_path
    )
    assert "image_catalog.web.connection" not in again
    assert _authoring(modules) == []
    assert _authoring(timed) == []


def test_the_probe_sees_the_authoring_side_when_it_is_loaded(
    shipped_site: Path, tmp_path: Path
) -> None:
    """The check is real: `index build` does load it."""
    modules, timed = _imported(
        ["index", "build", "--catalog", str(SHIPPED_CATALOG), "--out", str(tmp_path / "built")],
        tmp_path,
    )
    assert {"pydantic", "image_catalog.manifest.model"} <= modules & timed
