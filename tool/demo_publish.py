"""The GitOps loop end to end, on a throwaway registry: publish, validate online, index, show,
pull.

Starts Debian's docker-registry on 127.0.0.1 (a free port, temp storage), pushes a multi-arch bootc
image and a disk-image artifact as an ImageBuild would, then runs the real `image-catalog` commands
on a scratch git clone of the catalog. Everything is removed at the end; ./catalog is not touched.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pygit2
from image_catalog.naming import OPERATOR_GROUP as AIB

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.oci import DiskFile, push_disk_artifact, push_index
from support.registry import LocalRegistry

REPO = Path(__file__).resolve().parent.parent
QCOW2 = "application/vnd.automotive.disk.qcow2"

IMAGEBUILD = """\
apiVersion: automotive.sdv.cloud.redhat.com/v1alpha1
kind: ImageBuild
metadata:
  {{name: autosd10-qemu-nightly, namespace: demo, uid: 5e0d2c1a-7b3f-4e6d-9a8c-1f2e3d4c5b6a}}
spec:
  architecture: arm64
  aib: {{distro: autosd10, target: qemu, mode: bootc, manifestFileName: qemu.aib.yml}}
  export:
    format: qcow2
    container: {host}/demo/autosd10-qemu:nightly
    disk: {{oci: '{host}/demo/autosd10-qemu-disk:nightly'}}
status: {{phase: Completed, completionTime: '2026-02-10T02:15:00Z'}}
"""


def run(*args: str, cwd: Path) -> None:
    """Run `image-catalog ARGS` in `cwd`, after printing it quoted as a shell reads it: the line
    can be pasted back (an --author with spaces and <> stays one argument)."""
    argv = ["image-catalog", *args]
    print(f"$ {shlex.join(argv)}", flush=True)
    done = subprocess.run(argv, cwd=cwd, check=False)
    if done.returncode != 0:
        raise SystemExit(f"demo: 'image-catalog {args[0]}' exited {done.returncode}")


def commit_all(work: Path, message: str) -> None:
    """A new repository on `main` holding everything in `work`, in one commit."""
    repo = pygit2.init_repository(str(work), initial_head="main")
    repo.index.add_all()
    repo.index.write()
    who = pygit2.Signature("Catalog Maintainer", "maintainer@example.com")
    repo.create_commit("HEAD", who, who, message, repo.index.write_tree(), [])


def main() -> None:
    with LocalRegistry() as registry, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "catalog-repo"
        shutil.copytree(REPO / "catalog", work / "catalog")
        (work / "catalog/registries/demo.yaml").write_text(
            "apiVersion: catalog.automotive.sdv.cloud.redhat.com/v1alpha1\nkind: Registry\n"
            f"metadata: {{name: demo}}\nspec: {{kind: generic, host: '{registry.host}', "
            "tlsVerify: false}\n"
        )
        commit_all(work, "Catalog with a throwaway registry")
        index = push_index(registry, "demo/autosd10-qemu", "nightly")
        push_disk_artifact(
            registry,
            "demo/autosd10-qemu-disk",
            "nightly",
            [DiskFile("disk.qcow2", b"demo disk image " * 64, QCOW2)],
            {AIB + "distro": "autosd10", AIB + "target": "qemu", AIB + "arch": "aarch64"},
            artifact_type=QCOW2,
        )
        print(
            f"registry {registry.host}: pushed demo/autosd10-qemu:nightly ({index.digest[:19]}…,"
            " amd64 + arm64) and its qcow2 disk artifact"
        )
        build = work / "imagebuild.yaml"
        build.write_text(IMAGEBUILD.format(host=registry.host))
        run(
            "publish",
            "imagebuild",
            str(build),
            "--tag",
            "nightly",
            "--branch",
            "publish/demo",
            "--author",
            "Build Operator <operator@example.com>",
            cwd=work,
        )
        run("validate", "--online", "--base", "main", cwd=work)
        run("index", "build", "--out", str(Path(tmp) / "site"), cwd=work)
        run("show", "autosd10-qemu", "--index", str(Path(tmp) / "site"), cwd=work)
        run(
            "pull",
            "autosd10-qemu",
            "--target",
            "qemu",
            "--arch",
            "aarch64",
            "--index",
            str(Path(tmp) / "site"),
            "--out",
            str(Path(tmp) / "bench"),
            "--tls-verify=false",
            cwd=work,
        )
        run("audit", "--catalog", "catalog", cwd=work)
    print("demo: registry stopped, scratch repository and site removed", flush=True)


if __name__ == "__main__":
    main()
