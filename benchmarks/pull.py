"""Time `image-catalog pull` of a two-partition disk image from a loopback registry, beside curl.

    python benchmarks/pull.py [--partition-mib 512] [--repeats 3] [--json]

Pushes a disk artifact with two partitions of random (incompressible) bytes to a loopback
Distribution registry (anonymous), in 16 MiB chunks so the push's memory stays flat, builds a
catalog entry listing both files (title, sha256, size, partition) and its site, then measures in
one run:
- the floor C: `curl -s -o /dev/null` of both blobs (one process, the median of --repeats), and
  for reference the same curl writing both to files (what the disk adds);
- `skopeo copy docker://REF dir:DIR` of the artifact (what a user would run without the catalog);
- `image-catalog pull NAME --target BOARD --index SITE --out DIR --tls-verify=false`, first into
  an empty folder, then again into the same folder (everything there already verified) twice:
  the second pull, `RACY_S` later, hashes the files again (the status the first recorded was
  racily clean: read within 2 s of the files' writing) and records it anew; the third knows them
  by that status and reads nothing. With the peak memory of the first (the process and its
  children, sampled every 20 ms). The first is set against both curl rows.
Throughputs are bytes of both blobs over whole-process wall time. When this checkout has no
`pull` command (`image-catalog pull --help` fails) its rows say "pull: not available".
Every temp folder (the registry's storage, the copies) is removed at the end; the copies are
removed as soon as they were timed, so at most three copies of the blobs are on disk at once.
With --json the last line of output is the rows as JSON (benchmarks/table.py reads it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from support.catalogs import empty_catalog, registry_manifest  # noqa: E402
from support.oci import (  # noqa: E402
    ANNOTATION_PARTITION,
    ANNOTATION_PREFIX,
    ANNOTATION_TITLE,
    DISK_ARTIFACT_RAW,
    EMPTY_JSON,
    OCI_EMPTY,
    OCI_MANIFEST,
    PushedArtifact,
    PushedLayer,
    canonical_json,
)
from support.pushed import disk, write_entry  # noqa: E402
from support.registry import LocalRegistry, RegistryError, upload_url  # noqa: E402
from table import MIB, TOOL, Row, Run, measure, median, render  # noqa: E402

NAME = "bench-pull"
BOARD = "ridesx4"
REPO = "bench/pull-disk"
PARTITIONS = ("boot_a", "root_a")
CHUNK = 16 * MIB
GOAL_THROUGHPUT = 0.8  # of curl's
GOAL_SECOND_S = 1.0
GOAL_PEAK_MIB = 100
RACY_S = 2.2  # past the racily-clean window (`fsutil.RACY_NS`) of the first pull's records


def push_random_blob(registry: LocalRegistry, repo: str, size: int) -> str:
    """Upload `size` random bytes in PATCH chunks (memory stays at one chunk); return the digest."""
    start = registry.request("POST", f"/v2/{repo}/blobs/uploads/")
    location = start.headers.get("Location")
    if start.status != 202 or not location:
        raise RegistryError(f"blob upload refused: {start.status} {start.body!r}")
    digest = hashlib.sha256()
    sent = 0
    while sent < size:
        chunk = os.urandom(min(CHUNK, size - sent))
        digest.update(chunk)
        answer = registry.request(
            "PATCH",
            location,  # absolute (Distribution names its host) or a /v2/ path
            data=chunk,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{sent}-{sent + len(chunk) - 1}",
            },
        )
        location = answer.headers.get("Location")
        if answer.status != 202 or not location:
            raise RegistryError(f"blob chunk refused: {answer.status} {answer.body!r}")
        sent += len(chunk)
    blob = "sha256:" + digest.hexdigest()
    done = registry.request("PUT", upload_url(registry.url, location, blob), data=b"")
    if done.status != 201:
        raise RegistryError(f"blob upload not completed: {done.status} {done.body!r}")
    return blob


def push_artifact(registry: LocalRegistry, size: int) -> PushedArtifact:
    """The disk artifact as the build operator pushes it: one annotated layer per partition."""
    layers = []
    for partition in PARTITIONS:
        digest = push_random_blob(registry, REPO, size)
        layers.append(
            PushedLayer(f"{partition}.img", digest, size, DISK_ARTIFACT_RAW, partition, None)
        )
    registry.push_blob(REPO, EMPTY_JSON)
    annotations = {f"{ANNOTATION_PREFIX}target": BOARD, f"{ANNOTATION_PREFIX}arch": "arm64"}
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": DISK_ARTIFACT_RAW,
        "config": {
            "mediaType": OCI_EMPTY,
            "digest": "sha256:" + hashlib.sha256(EMPTY_JSON).hexdigest(),
            "size": len(EMPTY_JSON),
            "data": "e30=",
        },
        "layers": [
            {
                "mediaType": layer.media_type,
                "digest": layer.digest,
                "size": layer.size,
                "annotations": {
                    ANNOTATION_TITLE: layer.title,
                    ANNOTATION_PARTITION: layer.partition,
                },
            }
            for layer in layers
        ],
        "annotations": annotations,
    }
    manifest = canonical_json(document)
    digest = registry.push_manifest(REPO, "disk", manifest, OCI_MANIFEST)
    return PushedArtifact(
        host=registry.host,
        repo=REPO,
        tag="disk",
        digest=digest,
        media_type=OCI_MANIFEST,
        size=len(manifest),
        artifact_type=DISK_ARTIFACT_RAW,
        config_media_type=OCI_EMPTY,
        annotations=annotations,
        layers=tuple(layers),
        manifest=manifest,
    )


def build_site(registry: LocalRegistry, artifact: PushedArtifact, scratch: Path) -> Path:
    """A catalog with the one entry (the disk variant for the board) and its built site."""
    catalog = empty_catalog(
        scratch / "catalog", {"local": registry_manifest("local", registry.host)}
    )
    write_entry(catalog, NAME, [disk(artifact)], targets=(BOARD,))
    site = scratch / "site"
    measure([*TOOL, "index", "build", "--catalog", str(catalog), "--out", str(site)])
    return site


def pull_available() -> bool:
    done = subprocess.run([*TOOL, "pull", "--help"], capture_output=True, check=False, timeout=60)
    return done.returncode == 0


def throughput(total: int, run: Run) -> str:
    return f"{run.seconds:.2f} s, {total / run.seconds / MIB:.0f} MiB/s"


def pull_rows(site: Path, scratch: Path, total: int, curl: Run, curl_files: Run) -> list[Row]:
    measure_name = f"image-catalog pull, 2 x {total // 2 // MIB} MiB"
    goals = (
        f">= {GOAL_THROUGHPUT:g}x curl's throughput",
        "",
        f"< {GOAL_SECOND_S:g} s",
        f"< {GOAL_SECOND_S:g} s",
        f"< {GOAL_PEAK_MIB} MiB",
    )
    names = (
        f"{measure_name}, first (verified)",
        f"{measure_name}, first, against curl to files",
        f"{measure_name}, second of the same version (hashed: racily clean records)",
        f"{measure_name}, third of the same version (known by the recorded status)",
        "peak memory, pull (first)",
    )
    if not pull_available():
        return [
            Row(name, "pull: not available", "", goal, None)
            for name, goal in zip(names, goals, strict=True)
        ]
    out = scratch / "pulled"
    command = [
        *TOOL,
        "pull",
        NAME,
        "--target",
        BOARD,
        "--index",
        str(site),
        "--out",
        str(out),
        "--tls-verify=false",
    ]
    env = {"IMAGE_CATALOG_CACHE_DIR": str(scratch / "cli-cache")}
    first = measure(command, env=env)
    time.sleep(RACY_S)
    second = measure(command, env=env)
    third = measure(command, env=env)
    shutil.rmtree(out)
    ratio = curl.seconds / first.seconds
    peak = first.peak / MIB
    return [
        Row(
            names[0],
            throughput(total, first),
            f"{ratio:.2f}x C",
            goals[0],
            ratio >= GOAL_THROUGHPUT,
        ),
        Row(names[1], "", f"{curl_files.seconds / first.seconds:.2f}x curl to files", "", None),
        Row(names[2], f"{second.seconds:.2f} s", "", goals[2], second.seconds < GOAL_SECOND_S),
        Row(names[3], f"{third.seconds:.2f} s", "", goals[3], third.seconds < GOAL_SECOND_S),
        Row(names[4], f"{peak:.0f} MiB", "", goals[4], peak < GOAL_PEAK_MIB),
    ]


def rows(partition_mib: int, repeats: int) -> list[Row]:
    with (
        tempfile.TemporaryDirectory(prefix="image-catalog-pull-") as tmp,
        LocalRegistry() as registry,
    ):
        scratch = Path(tmp)
        artifact = push_artifact(registry, partition_mib * MIB)
        total = sum(layer.size for layer in artifact.layers)
        site = build_site(registry, artifact, scratch)
        curl_command = ["curl", "-s", "-f"]
        for layer in artifact.layers:
            curl_command += ["-o", "/dev/null", f"{registry.url}/v2/{REPO}/blobs/{layer.digest}"]
        curl = median([measure(curl_command) for _ in range(repeats)])
        # The same download written to files on this disk: what writing alone costs (reported
        # beside the floor, which the goal is set against).
        written = scratch / "curl"
        written.mkdir()
        to_files = [
            part if part != "/dev/null" else str(written / f"{number}.img")
            for number, part in enumerate(curl_command)
        ]
        curl_files = measure(to_files)
        shutil.rmtree(written)
        copy = scratch / "skopeo"
        skopeo = measure(
            ["skopeo", "copy", "--src-tls-verify=false", f"docker://{artifact.ref}", f"dir:{copy}"]
        )
        shutil.rmtree(copy)
        return [
            Row(
                f"floor C: curl of both blobs to /dev/null ({total // MIB} MiB)",
                throughput(total, curl),
                "1 C",
                "",
                None,
            ),
            Row(
                "curl of both blobs to files on this disk",
                throughput(total, curl_files),
                f"{curl.seconds / curl_files.seconds:.2f}x C",
                "",
                None,
            ),
            Row(
                "skopeo copy docker://REF dir:DIR",
                throughput(total, skopeo),
                f"{curl.seconds / skopeo.seconds:.2f}x C",
                "",
                None,
            ),
            *pull_rows(site, scratch, total, curl, curl_files),
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--partition-mib", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3, help="curl runs; the median is the floor")
    parser.add_argument("--json", action="store_true", help="end with the rows as one JSON line")
    args = parser.parse_args()
    found = rows(args.partition_mib, args.repeats)
    print(
        render(
            found,
            f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
            f"Python {sys.version.split()[0]}",
        )
    )
    if args.json:
        print(json.dumps([asdict(row) for row in found]), flush=True)


if __name__ == "__main__":
    main()
