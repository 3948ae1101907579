"""The size of status.json after a day of hourly checks, raw and gzipped.

python benchmarks/status_size.py --entries 10000 [--checks 24] [--json]

Runs the health check's history step (`health.check.record`, no registry) CHECKS times an hour
apart over ENTRIES synthetic entries named as `synthetic.py` names them (half multi-arch images
with two variants, half board disk images with one), each check on top of the status the one
before wrote and read back, as the hourly workflow does. What the registries say is drawn from a
seeded generator so that the file is what a real day leaves: about 1% of the checks find an entry
missing, changed or unreachable, one check in the day finds a tenth of the catalog's registry down,
a few entries are deprecated or have a moved tag. Prints the size of the last status.json and of
its gzip (level 6, as the site compresses), and those of the same status in the layout of
schemaVersion 1 (what the check wrote before the compact layout); with --json, the rows for
`benchmarks/run`. Goal: under 1.5 MB, and 300 kB gzipped, at 10,000 entries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Literal

from image_catalog.health import check as health
from image_catalog.health.observe import (
    EntryObservation,
    Observation,
    TagNote,
    VariantObservation,
)
from image_catalog.site.contract import encode
from image_catalog.site.status import decode

START = dt.datetime(2026, 3, 1, 0, 0, 5, tzinfo=dt.UTC)
GOAL_BYTES, GOAL_GZIP = 1_500_000, 300_000  # at 10,000 entries
Seen = Literal["available", "missing", "changed", "unreachable", "unauthorized"]


def observation(entries: int, hour: int, rng: random.Random) -> Observation:
    """What one hourly check sees: mostly available, some failures, one outage in the day."""
    seen = []
    for i in range(entries):
        name, version = f"image-{i // 10:05d}", f"1.{i % 10}.0"
        arches = ("x86_64", "aarch64") if i % 2 == 0 else ("aarch64",)
        state: Seen = "available"
        detail = None
        if hour == 10 and i % 10 == 3:  # one registry of ten down for an hour
            state, detail = "unreachable", "registry.example.com: connection refused"
        elif rng.random() < 0.01:
            state = rng.choice(("missing", "changed", "unreachable"))
            detail = f"{state}: manifest unknown to the registry"
        moved = (TagNote("spec.index", "latest", f"sha256:{i:064x}"),) if i % 200 == 7 else ()
        variants = tuple(
            VariantObservation(arch, state if n == 0 else "available", detail if n == 0 else None)
            for n, arch in enumerate(arches)
        )
        seen.append(
            EntryObservation(
                name=name,
                version=version,
                state=state,
                deprecated=i % 50 == 9,
                detail=detail,
                variants=variants,
                moved_tags=moved,
            )
        )
    return Observation(entries=seen)


def day(entries: int, checks: int, folder: Path) -> Path:
    """status.json after `checks` hourly checks, each on top of the file the one before wrote."""
    rng = random.Random(1)
    path = folder / "status.json"
    ids = [f"image-{i // 10:05d}@1.{i % 10}.0" for i in range(entries)]
    for hour in range(checks):
        now = START + dt.timedelta(hours=hour)
        previous, _ = health.load(str(path), now=now) if path.exists() else (None, [])
        status = health.record(
            observation(entries, hour, rng),
            previous,
            now=now,
            fail_after=health.DEFAULT_FAIL_AFTER,
            shard=None,
            catalog_ids=ids,
        )
        health.write(path, status)
    return path


def sizes(entries: int, checks: int) -> tuple[bytes, bytes]:
    """status.json as written, and the same status in the layout of schemaVersion 1."""
    with tempfile.TemporaryDirectory() as tmp:
        path = day(entries, checks, Path(tmp))
        written = path.read_bytes()
    expanded = encode(decode(written, "status.json"))
    return written, expanded


def rows(entries: list[int], checks: int) -> list[dict[str, object]]:
    """The rows of `benchmarks/run`: status.json and its gzip per entry count, with the goal, and
    the same status in the layout of schemaVersion 1 (the one before the compact layout)."""
    found = []
    for count in entries:
        written, expanded = sizes(count, checks)
        raw, packed = len(written), len(gzip.compress(written, 6, mtime=0))
        scale = count / 10000  # the goal is set at 10,000 entries, and scales with the catalog
        found.append(
            {
                "measure": f"status.json, {count} entries, {checks} hourly checks",
                "value": f"{raw / 1e6:.2f} MB",
                "ratio": "",
                "goal": f"< {GOAL_BYTES * scale / 1e6:.1f} MB",
                "met": raw < GOAL_BYTES * scale,
            }
        )
        found.append(
            {
                "measure": f"status.json.gz, {count} entries, {checks} hourly checks",
                "value": f"{packed / 1e3:.0f} kB",
                "ratio": "",
                "goal": f"< {GOAL_GZIP * scale / 1e3:.0f} kB",
                "met": packed < GOAL_GZIP * scale,
            }
        )
        before = len(gzip.compress(expanded, 6, mtime=0))
        found.append(
            {
                "measure": f"the same, {count} entries, in the layout of schemaVersion 1 (before)",
                "value": f"{len(expanded) / 1e6:.2f} MB, {before / 1e3:.0f} kB gzipped",
                "ratio": "",
                "goal": "",
                "met": None,
            }
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, action="append")
    parser.add_argument("--checks", type=int, default=24)
    parser.add_argument("--json", action="store_true", help="print the rows for benchmarks/run")
    args = parser.parse_args()
    found = rows(args.entries or [10000], args.checks)
    if args.json:
        print(json.dumps(found))
        return
    for row in found:
        goal = f" (goal {row['goal']})" if row["goal"] else ""
        print(f"{row['measure']}: {row['value']}{goal}")


if __name__ == "__main__":
    sys.exit(main())
