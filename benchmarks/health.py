"""Time `image-catalog check` over a loopback registry, and count what it fetched.

python benchmarks/health.py --entries 1000

Pushes ENTRIES entries to a local Distribution registry (half multi-arch bootc images: an index
recorded with its tag and two platform images; half board disk images as OCI artifacts with two
files), writes a catalog pointing at them, and runs the health check twice: once without history,
once with the first status as --previous (each with a fresh client, so nothing is cached). Checks
that every distinct manifest was fetched exactly once: the index fetched by its tag is the pinned
index, so the tag costs nothing. Goal: under 60 s for 1,000 entries on a 2-core machine. Needs
skopeo and docker-registry.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

from image_catalog.commands import check as check_command  # noqa: E402
from image_catalog.health import check as health  # noqa: E402
from support.registry import LocalRegistry  # noqa: E402
from validate_online import populate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--max-concurrency", type=int, default=4, help="the registry's spec.maxConcurrency"
    )
    args = parser.parse_args()
    # Each bootc entry has an index and two images; each board entry one artifact.
    bootc = (args.entries + 1) // 2
    expected = 3 * bootc + (args.entries - bootc)
    with tempfile.TemporaryDirectory() as tmp, LocalRegistry() as registry:
        started = time.perf_counter()
        root = populate(registry, Path(tmp) / "catalog", args.entries, args.max_concurrency)
        print(f"pushed {args.entries} entries in {time.perf_counter() - started:.1f} s")
        previous = Path(tmp) / "status.json"
        start = dt.datetime.now(dt.UTC).replace(microsecond=0)
        runs = (("no history", None), ("with --previous", previous))
        for hour, (label, history) in enumerate(runs):
            at = start + dt.timedelta(hours=hour)
            settings = check_command.CheckSettings(
                catalog=root,
                previous=str(history) if history is not None else None,
                workers=args.workers,
            )
            started = time.perf_counter()
            result = check_command.check(settings, clock=lambda: at)  # noqa: B023 (called within the loop)
            elapsed = time.perf_counter() - started
            health.write(previous, result.status)
            seen = result.observation
            figures = result.status.figures
            if figures.states["available"] != args.entries:
                raise SystemExit(f"not all available: {figures.states}")
            if (seen.manifests, seen.configs, seen.calls) != (expected, 0, expected):
                raise SystemExit(
                    f"expected {expected} fetches, one per distinct manifest; got "
                    f"{seen.manifests} manifests, {seen.configs} configs, {seen.calls} calls"
                )
            print(
                f"check, {label}: {elapsed:.1f} s for {args.entries} entries ({args.workers} "
                f"workers), {seen.calls} skopeo calls for {seen.manifests} distinct manifests "
                f"(each fetched once), status {previous.stat().st_size / 1000:.0f} kB"
            )


if __name__ == "__main__":
    main()
