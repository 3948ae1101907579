"""Starting processes: `process.run` is the only way the package does, and every caller (skopeo,
ssh-keygen signing, ssh-keygen verifying) gets its hardening: an allow-listed environment, a session
of its own killed as a group at the deadline, and death with its parent.

Real binaries where they can show it; a fake executable first on PATH for what they cannot (a hang,
a grandchild, recording the environment).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from image_catalog import process
from image_catalog.build.signing import SigningKey
from image_catalog.manifest.model import Registry
from image_catalog.manifest.reference import Reference
from image_catalog.reader.trust import SignatureRefused, verify_signature
from image_catalog.registry.credentials import Credentials
from image_catalog.registry.errors import ManifestNotFound, Unreachable
from image_catalog.registry.skopeo import INHERITED_ENVIRONMENT, Skopeo
from support.paths import REPO
from support.processes import alive, survivors, wait_for

PACKAGE = REPO / "tool" / "image_catalog"
STARTS_A_PROCESS = re.compile(r"\bsubprocess\.|\bos\.spawn|\bos\.exec|\bPopen\b")
# What must never reach a child: credentials meant for us, ambient auth, an agent, a prompt.
SECRETS = {
    "IMAGE_CATALOG_TEST_PASSWORD": "hunter2",
    "REGISTRY_AUTH_FILE": "/nowhere/auth.json",
    "DOCKER_CONFIG": "/nowhere",
    "SSH_AUTH_SOCK": "/nowhere/agent.sock",
    "SSH_ASKPASS": "/bin/true",
    "DISPLAY": ":0",
}


def write_script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def recorded_environment(path: Path) -> dict[str, str]:
    pairs = (line.partition("=") for line in path.read_bytes().decode().split("\0") if line)
    return {name: value for name, _, value in pairs}


def session_of(pid_and_sid: Path) -> tuple[int, int]:
    pid, sid = pid_and_sid.read_text().split()
    return int(pid), int(sid)


# A wrapper that records who it is, then becomes the real program (or hangs with a grandchild).
RECORD = """echo "$$ $(cut -d' ' -f6 /proc/$$/stat)" > "{log}.session"
cat /proc/$$/environ > "{log}.environ"
"""


@pytest.fixture
def secrets_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


# --- the one place -------------------------------------------------------------------------------


def test_nothing_else_in_the_package_starts_a_process() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "process.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if STARTS_A_PROCESS.search(line)
    ]
    assert offenders == [], "start processes through image_catalog.process:\n" + "\n".join(
        offenders
    )


def test_run_returns_the_code_and_both_streams() -> None:
    done = process.run(["sh", "-c", "cat; echo err >&2; exit 3"], stdin=b"in", timeout=10)
    assert (done.code, done.stdout, done.stderr) == (3, b"in", b"err\n")
    assert done.argv == ("sh", "-c", "cat; echo err >&2; exit 3")


def test_a_failure_shows_the_command_and_both_streams() -> None:
    with pytest.raises(process.ProcessError) as caught:
        process.run(["sh", "-c", "echo out; echo err >&2; exit 2"], timeout=10, check=True)
    message = str(caught.value)
    assert "command `sh -c 'echo out; echo err >&2; exit 2'` exited with status 2" in message
    assert "stdout: out" in message
    assert "stderr: err" in message
    assert caught.value.code == 2


def test_a_missing_executable_is_an_explained_failure(tmp_path: Path) -> None:
    with pytest.raises(process.ExecutableNotFound, match="`no-such-tool` was not found"):
        process.run(["no-such-tool", "--version"], timeout=10)
    not_executable = tmp_path / "tool"
    not_executable.write_text("#!/bin/sh\n")
    with pytest.raises(process.ExecutableNotFound, match="not executable"):
        process.run([str(not_executable)], timeout=10)


def test_the_environment_is_only_what_the_caller_names(
    secrets_set: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = process.environment(["LANG", "NOT_SET_ANYWHERE"], LC_ALL="C")
    done = process.run(["sh", "-c", "cat /proc/$$/environ"], env=env, timeout=10)
    names = {pair.partition("=")[0] for pair in done.stdout.decode().split("\0") if pair}
    assert names <= {"PATH", "LANG", "LC_ALL", "PWD", "SHLVL", "_"}  # the last three: sh's own
    assert {"PATH", "LANG", "LC_ALL"} <= names


def test_a_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    grandchild = tmp_path / "grandchild.pid"
    script = write_script(tmp_path / "hang", f'sleep 60 & echo $! > "{grandchild}"\nsleep 60\n')
    with pytest.raises(process.ProcessTimedOut, match=r"did not end within 0.5 s"):
        process.run([str(script)], timeout=0.5)
    assert survivors({int(grandchild.read_text())}, patience=5) == set()


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs util-linux's setpriv")
def test_the_child_dies_with_its_parent(tmp_path: Path) -> None:
    started = tmp_path / "child"
    script = write_script(tmp_path / "hang", f'echo $$ > "{started}.tmp"\nmv "{started}.tmp" '
                          f'"{started}"\nexec sleep 60\n')  # fmt: skip
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom image_catalog import process\nprocess.run([sys.argv[1]], timeout=60)",
            str(script),
        ],
        env={**os.environ, "PYTHONPATH": str(REPO / "tool")},
    )
    try:
        wait_for(started)
        child = int(started.read_text())
        assert alive(child)
        parent.kill()  # SIGKILL: nothing of ours runs, only the kernel can end the child
        parent.wait()
        assert survivors({child}, patience=5) == set()
    finally:
        parent.kill()


# --- each caller ---------------------------------------------------------------------------------


def _registry() -> Registry:
    return Registry.model_validate(
        {
            "apiVersion": "catalog.automotive.sdv.cloud.redhat.com/v1alpha1",
            "kind": "Registry",
            "metadata": {"name": "fake"},
            "spec": {"kind": "generic", "host": "registry.invalid", "tlsVerify": False},
        }
    )


def _no_credentials(registry: Registry) -> AbstractContextManager[Credentials]:
    return contextlib.nullcontext(Credentials(()))


def _inspect(skopeo: Skopeo) -> None:
    reference = Reference.parse("registry.invalid/fake/image:v1")
    skopeo.inspect(_registry(), reference, (), tls_args=(), authenticate=_no_credentials)


def test_skopeo_gets_only_the_allowed_environment_in_a_session_of_its_own(
    secrets_set: None, tmp_path: Path
) -> None:
    log = tmp_path / "skopeo"
    fake = write_script(
        tmp_path / "fake-skopeo",
        RECORD.format(log=log) + "echo 'level=fatal msg=\"manifest unknown\"' >&2\nexit 1\n",
    )
    skopeo = Skopeo([_registry()], executable=str(fake), retries=0)
    with pytest.raises(ManifestNotFound):
        _inspect(skopeo)
    environment = recorded_environment(log.with_suffix(".environ"))
    assert set(environment) <= {*INHERITED_ENVIRONMENT, "PWD", "SHLVL", "_"}
    assert environment["GOMAXPROCS"] == "1"
    assert not set(SECRETS) & set(environment)
    pid, session = session_of(log.with_suffix(".session"))
    assert pid == session  # its own session: out of the terminal's Ctrl-C, killed as a group


def test_a_hung_skopeo_is_killed_with_its_group(tmp_path: Path) -> None:
    grandchild = tmp_path / "grandchild.pid"
    fake = write_script(
        tmp_path / "fake-skopeo", f'sleep 60 & echo $! > "{grandchild}"\nexec sleep 60\n'
    )
    skopeo = Skopeo([_registry()], executable=str(fake), retries=0, timeout=0.3)
    with pytest.raises(Unreachable, match=r"no answer within 0.3 s"):
        _inspect(skopeo)
    assert survivors({int(grandchild.read_text())}, patience=5) == set()


@pytest.fixture
def recording_ssh_keygen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`ssh-keygen` first on PATH: records its environment and session, then runs the real one."""
    real = shutil.which("ssh-keygen")
    assert real is not None
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "ssh-keygen"
    write_script(folder / "ssh-keygen", RECORD.format(log=log) + f'exec {real} "$@"\n')
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return log


@pytest.mark.ssh
def test_signing_runs_ssh_keygen_with_no_agent_no_prompt_and_no_terminal(
    secrets_set: None, recording_ssh_keygen: Path, tmp_path: Path
) -> None:
    key = tmp_path / "key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    signing = SigningKey.load(key)
    assert signing is not None
    assert signing.sign(b"message").startswith("-----BEGIN SSH SIGNATURE-----")
    environment = recorded_environment(recording_ssh_keygen.with_suffix(".environ"))
    assert set(environment) <= {"PATH", "LC_ALL", "PWD", "SHLVL", "_"}
    assert environment["LC_ALL"] == "C"
    pid, session = session_of(recording_ssh_keygen.with_suffix(".session"))
    assert pid == session


@pytest.mark.ssh
def test_verifying_runs_ssh_keygen_with_a_minimal_environment(
    secrets_set: None, recording_ssh_keygen: Path, tmp_path: Path
) -> None:
    trust = tmp_path / "allowed_signers"
    trust.write_text("")
    with pytest.raises(SignatureRefused, match="the signature is not valid"):
        verify_signature(b"message", "not a signature", trust, "here")
    environment = recorded_environment(recording_ssh_keygen.with_suffix(".environ"))
    assert set(environment) <= {"PATH", "LC_ALL", "PWD", "SHLVL", "_"}
    assert not set(SECRETS) & set(environment)


@pytest.mark.ssh
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs util-linux's setpriv")
def test_a_verifying_ssh_keygen_dies_with_the_reader(tmp_path: Path) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    started = tmp_path / "ssh-keygen.pid"
    write_script(
        folder / "ssh-keygen", f'echo $$ > "{started}.tmp"\nmv "{started}.tmp" "{started}"\n'
        "exec sleep 60\n"
    )  # fmt: skip
    trust = tmp_path / "allowed_signers"
    trust.write_text("")
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom pathlib import Path\n"
            "from image_catalog.reader.trust import verify_signature\n"
            "verify_signature(b'm', 'sig', Path(sys.argv[1]), 'here')",
            str(trust),
        ],
        env={
            **os.environ,
            "PYTHONPATH": str(REPO / "tool"),
            "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}",
        },
    )
    try:
        wait_for(started)
        child = int(started.read_text())
        reader.send_signal(signal.SIGKILL)
        reader.wait()
        assert survivors({child}, patience=5) == set()
    finally:
        reader.kill()
