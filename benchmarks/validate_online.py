"""Time `validate --online` over a loopback registry: concurrent, then one call after another.

python benchmarks/validate_online.py --entries 200

Pushes ENTRIES entries to a local Distribution registry (half multi-arch bootc images with an index
and two platform images, half board disk images as OCI artifacts with two files), writes a catalog
pointing at them, and runs the online checks with --workers N and then with one worker, each with
a fresh client (so nothing is cached between runs). Needs skopeo and docker-registry.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

from image_catalog.catalog.loader import Catalog, load_catalog  # noqa: E402
from image_catalog.registry.client import RegistryClient  # noqa: E402
from image_catalog.registry.online import OnlineResult, check_online  # noqa: E402
from support.catalogs import empty_catalog, registry_manifest  # noqa: E402
from support.oci import push_index  # noqa: E402
from support.pushed import board_artifact, container, disk, write_entry  # noqa: E402
from support.registry import LocalRegistry  # noqa: E402


def populate(registry: LocalRegistry, root: Path, entries: int, max_concurrency: int) -> Path:
    declared = registry_manifest("bench", registry.host) + f"  maxConcurrency: {max_concurrency}\n"
    catalog = empty_catalog(root, {"bench": declared})
    for i in range(entries):
        name = f"bench-{i:04d}"
        if i % 2 == 0:
            index = push_index(registry, f"bench/bootc-{i:04d}", "1.0")
            write_entry(catalog, name, [container(x) for x in index.images], index=index)
        else:
            artifact = board_artifact(registry, f"bench/board-{i:04d}")
            write_entry(catalog, name, [disk(artifact)], distro="autosd", targets=("ridesx4",))
    return catalog


def timed(catalog: Catalog, workers: int) -> tuple[float, int, OnlineResult]:
    registries = [r.model for r in catalog.registries]
    with RegistryClient(registries) as client:
        started = time.perf_counter()
        result = check_online(catalog, client, workers=workers)
        elapsed = time.perf_counter() - started
    if result.problems or result.unchecked:
        raise SystemExit(f"unexpected findings: {result.problems[:3]} {result.unchecked[:3]}")
    return elapsed, client.calls, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--max-concurrency", type=int, default=4, help="the registry's spec.maxConcurrency"
    )
    parser.add_argument("--runs", type=int, default=3, help="best of N runs for each mode")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalRegistry() as registry:
        started = time.perf_counter()
        root = populate(registry, Path(tmp) / "catalog", args.entries, args.max_concurrency)
        print(f"pushed {args.entries} entries in {time.perf_counter() - started:.1f} s")
        catalog = load_catalog(root)
        modes = [(f"concurrent ({args.workers} workers)", args.workers), ("serial (1 worker)", 1)]
        best: dict[int, float] = {}
        for label, workers in modes:
            runs = [timed(catalog, workers) for _ in range(args.runs)]
            elapsed, calls, result = min(runs, key=lambda run: run[0])
            best[workers] = elapsed
            print(
                f"{label}: {elapsed:.2f} s (best of {args.runs}), {calls} skopeo calls, "
                f"{result.manifests} distinct manifests, {result.configs} blobs (configs) fetched"
            )
        print(f"speed-up: {best[1] / best[args.workers]:.2f}x")


if __name__ == "__main__":
    main()
