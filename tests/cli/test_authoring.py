"""A reader install: the command line with msgspec alone, as `pip install image-catalog` leaves it.

The child interpreter runs with `-S` (no site-packages) and finds only this tree's package and
msgspec (a link to the test environment's), so pydantic, ruamel.yaml, PyYAML, pygit2 and jinja2
cannot be imported. tool/check-installs.sh does the same with real pip installs in fresh venvs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import msgspec
import pytest
from image_catalog.cli import COMMANDS, main
from image_catalog.cli.authoring import (
    AUTHOR_LIBRARIES,
    READER_COMMANDS,
    UNAVAILABLE_SUMMARY,
    missing_libraries,
)
from support.paths import REPO

pytestmark = pytest.mark.usefixtures("isolated_reader")

MISSING = "pydantic, ruamel.yaml, PyYAML, pygit2, jinja2"
AUTHORING_COMMANDS = sorted(set(COMMANDS) - READER_COMMANDS)


def reader_install(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`image-catalog ARGS` with nothing importable but the package and msgspec, in tmp_path."""
    packages = tmp_path / "packages"
    if not packages.exists():
        packages.mkdir()
        (packages / "msgspec").symlink_to(Path(msgspec.__file__).parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "tool"), str(packages)]),
        "IMAGE_CATALOG_CACHE_DIR": str(tmp_path / "cache"),
    }
    return subprocess.run(
        [sys.executable, "-S", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_help_lists_every_command_marking_those_that_need_the_extra(tmp_path: Path) -> None:
    done = reader_install(tmp_path, "-m", "image_catalog", "--help")
    assert done.returncode == 0, done.stderr
    listed = dict(re.findall(r"^    ([a-z]+) +(.*)$", done.stdout, re.MULTILINE))
    assert sorted(listed) == sorted(COMMANDS)
    assert {c for c, summary in listed.items() if summary == UNAVAILABLE_SUMMARY} == set(
        AUTHORING_COMMANDS
    )


@pytest.mark.parametrize("command", AUTHORING_COMMANDS)
@pytest.mark.parametrize("more", [[], ["--help"], ["--catalog", "x", "-n", "--", "y"]])
def test_an_authoring_command_says_what_to_install(
    tmp_path: Path, command: str, more: list[str]
) -> None:
    done = reader_install(tmp_path, "-m", "image_catalog", command, *more)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"error: 'image-catalog {command}' needs the authoring extra: "
        f"pip install 'image-catalog[author]' (missing: {MISSING})\n"
    )


def test_query_show_and_the_client_work(tmp_path: Path, shipped_site: Path) -> None:
    index = ["--index", str(shipped_site)]
    done = reader_install(tmp_path, "-m", "image_catalog", "query", "--target", "rpi4", *index)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^autosd10-rpi4 ", done.stdout, re.MULTILINE)
    done = reader_install(tmp_path, "-m", "image_catalog", "show", "autosd10-rpi4", *index)
    assert done.returncode == 0, done.stderr
    for command in ("query", "show", "pull"):
        done = reader_install(tmp_path, "-m", "image_catalog", command, "--help")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"usage: image-catalog {command} ")
    script = (
        "import sys\n"
        "from image_catalog.reader import IndexClient, Query\n"
        "images = IndexClient(sys.argv[1]).query(Query(target='rpi4')).images\n"
        "assert 'pydantic' not in sys.modules and 'yaml' not in sys.modules\n"
        "print(*(image.name for image in images))\n"
    )
    done = reader_install(tmp_path, "-c", script, str(shipped_site))
    assert (done.returncode, done.stdout) == (0, "autosd10-rpi4\n"), done.stderr


def test_with_the_extra_the_command_is_itself(capsys: pytest.CaptureFixture[str]) -> None:
    assert missing_libraries() == []
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage: image-catalog validate ")


def test_the_libraries_are_the_extra_pyproject_declares() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> list[str]:
        return [re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0] for r in requirements]

    assert names(project["optional-dependencies"]["author"]) == list(AUTHOR_LIBRARIES)
    assert names(project["dependencies"]) == ["msgspec"]
    assert "image-catalog[author]" in project["optional-dependencies"]["test"]
