"""Time offline validation of a synthetic catalog.

python benchmarks/validate_offline.py --entries 10000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from image_catalog.catalog.validate import validate_catalog
from synthetic import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        catalog = generate(Path(tmp) / "catalog", args.entries)
        print(f"generated {args.entries} entries in {time.perf_counter() - started:.1f} s")
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            _, report = validate_catalog(catalog, use_cache=False)  # every file checked
            times.append(time.perf_counter() - started)
            assert report.ok, report.problems[:3]
        best, worst = min(times), max(times)
        per_entry = best / args.entries * 1000
        print(
            f"offline validation of {report.images} entries: best {best:.2f} s, "
            f"worst {worst:.2f} s over {args.runs} runs ({per_entry:.3f} ms per entry)"
        )


if __name__ == "__main__":
    main()
