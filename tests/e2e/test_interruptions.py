"""Interrupted commands leave nothing behind: no process, no scratch folder, no credentials.

Each test runs the real command in a process of its own and stops it as CI or an impatient user
would: SIGTERM (handled like Ctrl-C, exit 143) or SIGKILL (nothing runs; what the kernel frees is
all that goes).
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from image_catalog.catalog.cache import CACHE_FOLDER
from image_catalog.cli import main
from image_catalog.scratch import make_scratch, scratch_dir, sweep_stale
from support.catalogs import empty_catalog, fake_digest, image_document, registry_manifest
from support.entries import write_document
from support.processes import cmdline, descendants, survivors, wait_for
from support.registry import LocalRegistry

TOOL = Path(__file__).resolve().parents[2] / "tool"


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "image_catalog", *args]


def environment(tmp: Path, path_first: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(TOOL)}
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env['PATH']}"
    return env


def write_script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


# --- parallel loading ---------------------------------------------------------------------------

_LOADER = """
import os, sys, time
from pathlib import Path
import image_catalog.manifest.load as load
load.PARALLEL_FROM = 1
os.cpu_count = lambda: 2
files = [(p, p.name) for p in sorted(Path(sys.argv[1]).iterdir())]
results = load.load_mappings(files)
next(results)
Path(sys.argv[2]).touch()
time.sleep(60)
"""


def test_parse_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    for n in range(200):
        (files / f"{n:03}.yaml").write_text(f"n: {n}\n")
    ready = tmp_path / "ready"
    parent = subprocess.Popen(
        [sys.executable, "-c", _LOADER, str(files), str(ready)],
        env=environment(tmp_path),
        stdout=subprocess.PIPE,
    )
    try:
        wait_for(ready)
        below = descendants(parent.pid)  # two parse workers and the resource tracker
        assert len(below) >= 3
    finally:
        parent.kill()
        parent.wait()
    assert parent.stdout is not None
    parent.stdout.close()
    assert survivors(below) == set()


def _many_entries(catalog: Path, count: int, comment: str = "") -> None:
    for n in range(count):
        text = image_document("demo", f"1.{n}", fake_digest(f"demo-{n}"))
        write_document(catalog, "demo", f"1.{n}", text + comment)


@pytest.mark.slow
def test_ctrl_c_while_parsing_in_parallel_exits_130_at_once_leaving_nothing(
    tmp_path: Path,
) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while the workers
    parse: exit 130, queued work dropped and the workers stopped, no traceback from them, no temp
    file, and the cache of the run before left as it was."""
    catalog = empty_catalog(tmp_path / "catalog", {"quay": registry_manifest("quay", "quay.io")})
    _many_entries(catalog, 4000)
    first = subprocess.run(
        command("validate", "--catalog", "catalog"),
        cwd=tmp_path,
        env=environment(tmp_path),
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    [cache] = (tmp_path / CACHE_FOLDER).glob("facts-*.msgpack")
    before = cache.read_bytes()
    _many_entries(catalog, 4000, comment="# changed: every file is parsed again\n")
    child = subprocess.Popen(
        command("validate", "--catalog", "catalog"),
        cwd=tmp_path,
        env=environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        workers = _parse_workers(child)
        os.killpg(child.pid, signal.SIGINT)
        # A bound against a hang, not a measure: the parse left to do takes longer.
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130, err
    assert err == b"interrupted\n"
    assert survivors(workers) == set()
    assert sorted(p.name for p in tmp_path.rglob("*.tmp")) == []
    assert cache.read_bytes() == before


def _parse_workers(child: subprocess.Popen[bytes]) -> set[int]:
    """The child's parse workers, once two are running (the sign that parsing started)."""
    for _ in range(2000):
        assert child.poll() is None, child.communicate()
        workers = {p for p in descendants(child.pid) if b"spawn_main" in cmdline(p)}
        if len(workers) >= 2:
            return workers
        time.sleep(0.02)
    raise AssertionError("no parse workers started")


# --- SIGTERM ------------------------------------------------------------------------------------


def test_sigterm_cleans_up_and_exits_143(tmp_path: Path, registry: LocalRegistry) -> None:
    """A registry call that hangs, then SIGTERM: skopeo is stopped, the scratch folder removed."""
    catalog = empty_catalog(
        tmp_path / "catalog", {"local": registry_manifest("local", registry.host)}
    )
    ca = tmp_path / "ca.pem"  # a CA makes the client write a scratch folder
    ca.write_text("-----BEGIN CERTIFICATE-----\n(test)\n-----END CERTIFICATE-----\n")
    with (catalog / "registries/local.yaml").open("a") as stream:
        stream.write(f"  caFile: '{ca}'\n")
    entry = image_document("hang", "1.0", fake_digest("hang"))
    (catalog / "images/hang").mkdir()
    (catalog / "images/hang/1.0.yaml").write_text(
        entry.replace("quay.io/automotive-images", f"{registry.host}/tests")
    )
    fake = tmp_path / "bin"
    fake.mkdir()
    started = tmp_path / "skopeo.pid"
    write_script(
        fake / "skopeo",
        f'echo $$ > "{started}.tmp"; mv "{started}.tmp" "{started}"\nexec sleep 60\n',
    )
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process = subprocess.Popen(
        command("validate", "--online", "--catalog", str(catalog), "--retries", "0"),
        env=environment(scratch, fake),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(started)
        below = descendants(process.pid)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 143
    assert stderr.decode().endswith("terminated\n")
    assert survivors(below, patience=5) == set()
    assert list(scratch.iterdir()) == []


def test_sigterm_handler_is_restored_after_main(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    assert main(["schema", "--check"]) in (0, 1)
    assert signal.getsignal(signal.SIGTERM) is before


# --- scratch folders ----------------------------------------------------------------------------


def _hold_lock(folder: Path) -> subprocess.Popen[bytes]:
    """Another live process that holds `folder`'s lock, as a running build holds its own."""
    script = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script, str(folder)], stdout=subprocess.PIPE)
    assert holder.stdout is not None
    assert holder.stdout.readline() == b"locked\n"
    return holder


def test_sweep_removes_only_stale_folders_of_its_own_kind(tmp_path: Path) -> None:
    stale = tmp_path / ".site.build-dead"
    (stale / "nested").mkdir(parents=True)
    (stale / "nested/index.json").write_text("{}")
    live = tmp_path / ".site.build-live"
    live.mkdir()
    other = tmp_path / ".other.build-dead"
    other.mkdir()
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / ".site.build-link").symlink_to(target)
    (tmp_path / ".site.build-file").write_text("not a folder")
    born = tmp_path / ".site.build-born.claim"  # being made right now
    born.mkdir()
    holder = _hold_lock(live)
    try:
        removed = sweep_stale(tmp_path, ".site.build-")
    finally:
        holder.kill()
        holder.communicate()
    assert removed == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".other.build-dead",
        ".site.build-born.claim",
        ".site.build-file",
        ".site.build-link",
        ".site.build-live",
        "elsewhere",
    ]
    assert sweep_stale(tmp_path, ".site.build-") == [live]  # its owner is gone now


def test_scratch_is_locked_from_birth_and_removed_after(tmp_path: Path) -> None:
    scratch = make_scratch(tmp_path, "image-catalog-x-")
    try:
        assert scratch.path.is_dir()
        assert not scratch.path.name.endswith(".claim")
        fd = os.open(scratch.path, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):  # another open file description is refused
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        assert sweep_stale(tmp_path, "image-catalog-x-") == []
    finally:
        scratch.release()
    with scratch_dir(tmp_path, "image-catalog-y-") as folder:
        assert folder.is_dir()
    assert not folder.exists()


def test_index_build_removes_what_a_killed_build_left(tmp_path: Path) -> None:
    catalog = empty_catalog(tmp_path / "catalog", {})
    out = tmp_path / "site"
    left = tmp_path / ".site.build-k1ll3d"  # as a SIGKILLed build leaves it: no lock held
    (left / "images").mkdir(parents=True)
    assert main(["index", "build", "--catalog", str(catalog), "--out", str(out)]) == 0
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != ".cache")  # the checks' cache
    assert left == [".site.lock", "catalog", "site"]  # the lock builds take turns with: kept


def test_publish_removes_what_a_killed_publish_left(
    tmp_path: Path, registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.oci import push_image

    scratch = tmp_path / "tmp"
    left = scratch / "image-catalog-publish-k1ll3d"
    left.mkdir(parents=True)
    (left / "candidate.yaml").write_text("apiVersion: x\n")
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    catalog = empty_catalog(
        tmp_path / "catalog", {"local": registry_manifest("local", registry.host)}
    )
    push_image(registry, "interrupt/publish", "1.0", "arm64", created="2026-03-01T00:00:00Z")
    ref = f"{registry.host}/interrupt/publish:1.0"
    args = ["publish", "image", ref, "--catalog", str(catalog), "--name", "interrupted"]
    assert main([*args, "--distro", "autosd9-sig", "--target", "qemu", "--version", "1.0"]) == 0
    assert list(scratch.iterdir()) == []
    assert (catalog / "images/interrupted/1.0.yaml").is_file()


def test_registry_client_removes_what_a_killed_client_left(
    tmp_path: Path, registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from image_catalog.manifest.model import Registry
    from image_catalog.registry.client import RegistryClient
    from support.oci import push_image

    scratch = tmp_path / "tmp"
    left = scratch / "image-catalog-registry-k1ll3d"
    (left / "certs-x").mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    ca = tmp_path / "ca.pem"  # a CA makes the client write its scratch folder
    ca.write_text("-----BEGIN CERTIFICATE-----\n(test)\n-----END CERTIFICATE-----\n")
    spec = {"kind": "generic", "host": registry.host, "tlsVerify": False, "caFile": str(ca)}
    declared = Registry.model_validate(
        {
            "apiVersion": "catalog.automotive.sdv.cloud.redhat.com/v1alpha1",
            "kind": "Registry",
            "metadata": {"name": "local"},
            "spec": spec,
        }
    )
    image = push_image(registry, "interrupt/client", "1.0")
    RegistryClient([]).close()  # even a client that writes nothing sweeps
    assert list(scratch.iterdir()) == []
    left.mkdir()
    (left / "auth-1.json").write_text("{}")  # as an earlier release left it
    with RegistryClient([declared]) as client:
        client.inspect(image.ref, config=False)
        private = client.private_folder
        assert private is not None
        assert list(scratch.iterdir()) == [private]
    assert list(scratch.iterdir()) == []
