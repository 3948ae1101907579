"""No secret within reach, even when a command is killed half-way.

Every command that talks to a registry (`validate --online`, `publish image`, `publish imagebuild
--branch`, `check`) runs against a registry behind basic auth, once for each way a Registry can hold
credentials, and is stopped with SIGTERM or SIGKILL while a given skopeo call runs (or left to
finish). Then everything it could have left anywhere is searched for the token, in clear and in
base64: its output, every file under its TMPDIR, the work tree and every git object, and the
command lines and environments its skopeo processes had. No process of the command may outlive it.

The skopeo on PATH is a wrapper that records what it was given and signals the command at its
N-th call, then becomes the real skopeo: the registry calls themselves are real.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest
from support.catalogs import empty_catalog, image_document, registry_manifest
from support.oci import DiskFile, push_disk_artifact, push_image
from support.processes import survivors
from support.registry import REGISTRY_PASSWORD, LocalRegistry, require_tools, write_authfile

USER = "serviceaccount"
TOOL = Path(__file__).resolve().parents[2] / "tool"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "imagebuild"
AIB = "automotive.sdv.cloud.redhat.com/"
NEEDLES = (
    REGISTRY_PASSWORD.encode(),
    base64.b64encode(f"{USER}:{REGISTRY_PASSWORD}".encode()),
    base64.b64encode(REGISTRY_PASSWORD.encode()),
)
IDENTITY = pygit2.Signature("Catalog Tester", "tester@example.com", 1767225600, 0)


@dataclass
class Run:
    """One command run: where it worked, and what it printed."""

    root: Path  # the git work tree holding catalog/
    tmp: Path  # its TMPDIR
    spy: Path  # what its skopeo calls recorded
    returncode: int
    output: bytes

    def calls(self) -> list[int]:
        calls = self.spy / "calls"
        return [int(line) for line in calls.read_text().split()] if calls.exists() else []


def auth_for(method: str, secrets: Path, host: str) -> dict[str, str]:
    secrets.mkdir()
    if method == "serviceAccountToken":
        (secrets / "token").write_text(REGISTRY_PASSWORD + "\n")
        return {"method": method, "tokenPath": str(secrets / "token")}
    if method == "authFile":
        write_authfile(secrets / "auth.json", host, USER, REGISTRY_PASSWORD)
        return {"method": method, "path": str(secrets / "auth.json")}
    return {"method": method, "usernameVariable": "REG_USER", "passwordVariable": "REG_PW"}


def spy_skopeo(folder: Path, logs: Path, at_call: int, signum: int, then: str) -> Path:
    """A skopeo that records its call, signals its parent (the command) at call `at_call`, and
    then runs `then` (the real skopeo, or a hang)."""
    folder.mkdir()
    logs.mkdir()
    script = folder / "skopeo"
    script.write_text(
        "#!/bin/sh\n"
        + textwrap.dedent(
            f"""\
            log="{logs}/$$"
            tr '\\0' '\\n' < /proc/$$/cmdline > "$log.cmdline"
            tr '\\0' '\\n' < /proc/$$/environ > "$log.environ"
            echo $$ >> "{logs}/calls"
            n=1
            while ! mkdir "{logs}/call.$n" 2> /dev/null; do n=$((n + 1)); done
            if [ "$n" -eq {at_call} ]; then kill -{signum} $PPID; fi
            exec {then}
            """
        )
    )
    script.chmod(0o755)
    return folder


def git_catalog(root: Path, host: str, auth: dict[str, str]) -> Path:
    catalog = empty_catalog(root / "catalog", {"private": registry_manifest("private", host, auth)})
    repo = pygit2.init_repository(str(root), initial_head="main")
    repo.index.add_all()
    repo.index.write()
    repo.create_commit("HEAD", IDENTITY, IDENTITY, "Start", repo.index.write_tree(), [])
    return catalog


def prepare(command: str, registry: LocalRegistry, catalog: Path, tmp_path: Path) -> list[str]:
    """The command line, with what it needs pushed to the registry."""
    base = ["--catalog", str(catalog)]
    branch = ["--branch", "publish/secret", "--author", "Build Operator <op@example.com>"]
    if command in ("validate", "check"):
        for name in ("first", "second"):
            image = push_image(registry, f"secret/{name}", "1.0", "amd64", seed=name)
            text = image_document(name, "1.0", image.digest)
            text = text.replace("quay.io/automotive-images", f"{registry.host}/secret")
            (catalog / "images" / name).mkdir(parents=True)
            (catalog / "images" / name / "1.0.yaml").write_text(
                text.replace("size: 1612", f"size: {image.size}")
            )
        if command == "check":  # its status file is searched with the work tree
            return ["check", "--out", str(catalog.parent / "status.json"), "--retries", "0", *base]
        return ["validate", "--online", "--retries", "0", *base]
    if command == "publish image":
        push_image(registry, "secret/prebuilt", "2.0", "arm64", created="2026-03-01T00:00:00Z")
        ref = f"{registry.host}/secret/prebuilt:2.0"
        flags = ["--distro", "autosd9-sig", "--target", "qemu", "--name", "prebuilt"]
        return ["publish", "image", ref, *flags, *base, *branch]
    push_image(registry, "automotive-builds/autosd10-rcar-s4", "nightly", architecture="arm64")
    push_disk_artifact(
        registry,
        "automotive-builds/autosd10-rcar-s4-disk",
        "nightly",
        [DiskFile("boot.img.gz", b"boot" * 64, partition="boot", decompressed_size=4096)],
        {AIB + "distro": "autosd10", AIB + "target": "rcar_s4", AIB + "arch": "aarch64"},
    )
    build = tmp_path / "build.yaml"
    text = (FIXTURES / "nested-bootc-disk.yaml").read_text()
    build.write_text(text.replace("REGISTRY/", f"{registry.host}/"))
    return ["publish", "imagebuild", str(build), *base, *branch]


def run_command(
    command: str,
    method: str,
    registry: LocalRegistry,
    tmp_path: Path,
    *,
    at_call: int,
    signum: int,
    then: str = "",
) -> Run:
    real = subprocess.run(["sh", "-c", "command -v skopeo"], capture_output=True, text=True)
    auth = auth_for(method, tmp_path / "secrets", registry.host)
    root = tmp_path / "repo"
    catalog = git_catalog(root, registry.host, auth)
    argv = prepare(command, registry, catalog, tmp_path)
    spy = tmp_path / "spy"
    fake = spy_skopeo(tmp_path / "bin", spy, at_call, signum, then or f'{real.stdout.strip()} "$@"')
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {
        **os.environ,
        "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}",
        "TMPDIR": str(scratch),
        "PYTHONPATH": str(TOOL),
        "REG_USER": USER,
        "REG_PW": REGISTRY_PASSWORD,
    }
    done = subprocess.run(
        [sys.executable, "-m", "image_catalog", *argv],
        env=env,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=120,
        check=False,
    )
    return Run(root, scratch, spy, done.returncode, done.stdout)


def leaks(run: Run) -> list[str]:
    """Every place the token was found, in clear or base64."""
    found = []

    def search(where: str, data: bytes) -> None:
        found.extend(f"{where}: {needle.decode()}" for needle in NEEDLES if needle in data)

    search("output", run.output)
    for folder in (run.tmp, run.root):
        for path in folder.rglob("*"):
            search(str(path), str(path).encode())
            if path.is_file() and not path.is_symlink():
                search(str(path), path.read_bytes())
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=run.root,
        capture_output=True,
        check=True,
    )
    search("git objects", objects.stdout)
    for path in run.spy.glob("*.*"):  # each skopeo call's command line and environment
        if path.is_file():
            search(str(path), path.read_bytes())
    return found


# (command, auth method, interrupted at skopeo call N (0: never), signal)
CASES = [
    ("validate", "serviceAccountToken", 1, signal.SIGTERM),
    ("validate", "environment", 2, signal.SIGKILL),
    ("validate", "authFile", 0, signal.SIGTERM),
    ("publish image", "serviceAccountToken", 2, signal.SIGKILL),
    ("publish image", "environment", 0, signal.SIGTERM),
    ("publish image", "authFile", 1, signal.SIGTERM),
    ("publish imagebuild", "serviceAccountToken", 0, signal.SIGTERM),
    ("publish imagebuild", "environment", 1, signal.SIGTERM),
    ("publish imagebuild", "authFile", 2, signal.SIGKILL),
    ("check", "environment", 0, signal.SIGTERM),
    ("check", "serviceAccountToken", 2, signal.SIGKILL),
]


@pytest.mark.git
@pytest.mark.parametrize(
    ("command", "method", "at_call", "signum"),
    CASES,
    ids=[f"{c}-{m}-{n}-{s.name}" for c, m, n, s in CASES],
)
def test_no_secret_left_anywhere(
    command: str,
    method: str,
    at_call: int,
    signum: signal.Signals,
    auth_registry: LocalRegistry,
    tmp_path: Path,
) -> None:
    require_tools("skopeo", "git")
    run = run_command(command, method, auth_registry, tmp_path, at_call=at_call, signum=signum)
    calls = run.calls()
    assert len(calls) >= max(at_call, 1), run.output.decode()
    expected = {0: 0, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}
    assert run.returncode == expected[signum if at_call else 0], run.output.decode()
    assert survivors(set(calls)) == set()
    assert leaks(run) == []
    if at_call == 0 and command.startswith("publish"):  # the branch was committed
        repo = pygit2.Repository(str(run.root))
        assert repo.head.shorthand == "publish/secret"
    if at_call == 0 and command == "check":
        assert (run.root / "status.json").is_file()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_no_process_outlives_an_interrupted_command(
    signum: signal.Signals, auth_registry: LocalRegistry, tmp_path: Path
) -> None:
    """A registry call that hangs when the command is stopped: the call ends with it."""
    require_tools("setpriv")
    run = run_command(
        "validate",
        "serviceAccountToken",
        auth_registry,
        tmp_path,
        at_call=1,
        signum=signum,
        then="sleep 60",
    )
    assert run.returncode == (143 if signum == signal.SIGTERM else -signal.SIGKILL)
    assert run.calls()
    assert survivors(set(run.calls()), patience=5) == set()
    assert leaks(run) == []
