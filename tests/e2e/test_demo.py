"""The main job's demo (tool/demo_publish.py): each command line it prints is the one it runs,
quoted so that it can be pasted back into a shell."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from support.paths import READER_VARIABLES, REPO
from support.registry import require_tools

DEMO = REPO / "tool/demo_publish.py"


def recording_environment(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose `image-catalog` is this checkout's, writing the argv of each run (as
    a JSON list, one a line) to the log it returns before it runs."""
    log = tmp_path / "argv.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "image-catalog"
    shim.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as log:\n"
        "    log.write(json.dumps(sys.argv) + '\\n')\n"
        f"os.execv(sys.executable, [sys.executable, '-m', 'image_catalog', *sys.argv[1:]])\n"
    )
    shim.chmod(0o755)
    environment = {k: v for k, v in os.environ.items() if k not in READER_VARIABLES}
    environment["PATH"] = f"{bin_dir}{os.pathsep}{environment.get('PATH', '')}"
    tool = str(REPO / "tool")
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [tool, os.environ.get("PYTHONPATH")]))
    environment["IMAGE_CATALOG_CACHE_DIR"] = str(tmp_path / "cache")
    return environment, log


def recorded(log: Path) -> list[list[str]]:
    """Each argv the shim saw, with the program named as the demo names it."""
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    return [["image-catalog", *argv[1:]] for argv in runs]


def printed_commands(output: str) -> list[list[str]]:
    return [shlex.split(line[2:]) for line in output.splitlines() if line.startswith("$ ")]


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_publish", DEMO)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_printed_command_reads_back_as_the_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment, log = recording_environment(tmp_path)
    for name in READER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in ("PATH", "PYTHONPATH", "IMAGE_CATALOG_CACHE_DIR"):
        monkeypatch.setenv(name, environment[name])
    out = "schemas for 'Build Operator <operator@example.com>'"
    load_demo().run("schema", "--dir", out, cwd=tmp_path)
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]
    assert shlex.split(line[2:]) == ["image-catalog", "schema", "--dir", out]
    assert recorded(log) == [["image-catalog", "schema", "--dir", out]]
    assert any((tmp_path / out).glob("*.json"))


@pytest.mark.registry
@pytest.mark.git
@pytest.mark.slow
def test_every_command_the_demo_prints_is_the_one_it_runs(tmp_path: Path) -> None:
    require_tools("skopeo")
    environment, log = recording_environment(tmp_path)
    done = subprocess.run(
        [sys.executable, str(DEMO)],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    printed = printed_commands(done.stdout)
    assert printed == recorded(log)
    authors = [argv for argv in printed if "--author" in argv]
    assert [argv[argv.index("--author") + 1] for argv in authors] == [
        "Build Operator <operator@example.com>"
    ]
