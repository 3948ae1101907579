"""Time one publish against a loopback registry: a multi-arch bootc image plus a disk artifact.

    python benchmarks/publish.py [--runs 5]

Prints the wall time of the whole command (a new process, as an operator runs it) and the number
of skopeo calls it made.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.catalogs import empty_catalog, registry_manifest
from support.oci import DiskFile, push_disk_artifact, push_index
from support.registry import LocalRegistry

AIB = "automotive.sdv.cloud.redhat.com/"
BUILD = """\
apiVersion: automotive.sdv.cloud.redhat.com/v1alpha1
kind: ImageBuild
metadata: {{name: bench-{run}, namespace: bench, uid: 00000000-0000-0000-0000-00000000000{run}}}
spec:
  architecture: arm64
  aib: {{distro: autosd10, target: qemu, mode: bootc}}
  export:
    container: {host}/bench/qemu:nightly
    disk: {{oci: '{host}/bench/qemu-disk:nightly'}}
status: {{phase: Completed, completionTime: '2026-02-0{day}T01:00:00Z'}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times = []
    with LocalRegistry() as registry, tempfile.TemporaryDirectory() as tmp:
        catalog = empty_catalog(
            Path(tmp) / "catalog", {"local": registry_manifest("local", registry.host)}
        )
        for run in range(1, args.runs + 2):
            push_index(registry, "bench/qemu", "nightly")
            push_disk_artifact(
                registry,
                "bench/qemu-disk",
                "nightly",
                [DiskFile("disk.raw.gz", b"x" * 4096 + bytes([run]), partition="root")],
                {AIB + "arch": "arm64"},
            )
            build = Path(tmp) / f"build-{run}.yaml"
            build.write_text(BUILD.format(run=run, host=registry.host, day=run))
            if run > args.runs:  # one more, in-process, to count the calls
                calls = _count_calls(catalog, build)
                break
            started = time.perf_counter()
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "image_catalog",
                    "--debug",
                    "publish",
                    "imagebuild",
                    str(build),
                    "--catalog",
                    str(catalog),
                    "--name",
                    "bench",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            times.append(time.perf_counter() - started)
            if done.returncode != 0:
                raise SystemExit(done.stderr)
    print(
        f"publish imagebuild (multi-arch bootc index + disk artifact), {args.runs} runs: "
        f"median {statistics.median(times):.2f} s, worst {max(times):.2f} s, "
        f"skopeo calls per publish: {calls}"
    )


def _count_calls(catalog: Path, build: Path) -> int:
    """Publish one more build in-process, to count the skopeo calls one publish makes."""
    from image_catalog.commands.publish import PublishBuildSettings, publish_imagebuild

    settings = PublishBuildSettings(catalog=catalog, imagebuild=str(build), name="bench")
    return publish_imagebuild(settings).registry_calls


if __name__ == "__main__":
    main()
