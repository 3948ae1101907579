"""Time `index build` and `query` on a synthetic catalog, and report the site's sizes.

python benchmarks/index.py --entries 20000 [--catalog DIR] [--runs 3]

Goals: build under 5 s, a typical per-target view under 5% of index.json, a query under 100 ms
locally and over HTTP on loopback. Generating 20,000 entries takes about a minute (round-trip YAML
writing); pass --catalog DIR to keep the generated catalog and reuse it on the next run.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from image_catalog.build.render import build_from_scratch, build_site
from image_catalog.catalog.validate import validate_catalog
from image_catalog.reader.client import IndexClient, Query
from image_catalog.site.contract import SiteDoc
from image_catalog.site.parse import parser
from static import serving
from synthetic import generate

GOAL_BUILD_S = 5.0
GOAL_VIEW_SHARE = 0.05
GOAL_QUERY_MS = 100.0


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def verdict(ok: bool) -> str:
    return "meets the goal" if ok else "MISSES the goal"


def size(path: Path) -> str:
    count = path.stat().st_size
    return f"{count / 1e6:.2f} MB" if count >= 1e6 else f"{count / 1e3:.1f} kB"


def catalog_for(args: argparse.Namespace, scratch: Path) -> Path:
    catalog: Path = args.catalog or scratch / "catalog"
    existing = len(list(catalog.glob("images/*/*.yaml"))) if catalog.is_dir() else 0
    if existing == args.entries:
        print(f"reusing {catalog} ({existing} entries)")
        return catalog
    print(f"generating {args.entries} entries in {catalog} ...", flush=True)
    took = timed(lambda: generate(catalog, args.entries))
    print(f"  generated in {took:.1f} s")
    return catalog


def bench_build(catalog: Path, site: Path, runs: int) -> None:
    validating = timed(lambda: validate_catalog(catalog, use_cache=False))
    loaded, report = validate_catalog(catalog)
    assert report.ok, report.problems[:3]
    fresh, rebuild = [], []
    for _ in range(runs):
        shutil.rmtree(site, ignore_errors=True)
        fresh.append(timed(lambda: build_site(loaded, site)))
        rebuild.append(timed(lambda: build_site(loaded, site)))
    end_to_end = timed(lambda: build_from_scratch(catalog, site))
    best = min(fresh)
    print(f"\nindex build, {report.images} entries ({os.cpu_count()} CPUs, load {load()}):")
    print(f"  offline validation alone          {validating:6.2f} s")
    print(
        f"  build from a validated catalog    {best:6.2f} s best, {max(fresh):.2f} s worst of "
        f"{runs} (fresh site)  {verdict(best < GOAL_BUILD_S)} (< {GOAL_BUILD_S:.0f} s)"
    )
    print(f"  rebuild over an unchanged site    {min(rebuild):6.2f} s best")
    print(
        f"  index build with validation       {end_to_end:6.2f} s (build_from_scratch, what "
        f"the CLI runs)  {verdict(end_to_end < GOAL_BUILD_S)}"
    )


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def bench_sizes(site: Path) -> str:
    index = site / "index.json"
    meta = parser(SiteDoc)((site / "catalog.json").read_text(), "catalog.json")
    targets = sorted(
        (count.latest, name) for name, count in meta.views["target"].items() if count.latest
    )
    typical = targets[len(targets) // 2][1]
    view = site / "views/target" / typical / "latest.json"
    history = site / "views/target" / typical / "all.json"
    share = view.stat().st_size / index.stat().st_size
    files = sum(1 for p in site.rglob("*") if p.is_file())
    print(f"\nsite: {files} files")
    packed = size(index.with_suffix(".json.gz"))
    print(f"  index.json                        {size(index)} raw, {packed} gzipped")
    print(f"  latest.json (newest per image)    {size(site / 'latest.json')}")
    print(
        f"  views/target/{typical}/latest.json  {size(view)} = {share:.1%} of index.json  "
        f"{verdict(share < GOAL_VIEW_SHARE)} (< {GOAL_VIEW_SHARE:.0%})"
    )
    print(
        f"  views/target/{typical}/all.json     {size(history)} = "
        f"{history.stat().st_size / index.stat().st_size:.1%} of index.json (every version)"
    )
    return typical


def latency(action: Callable[[], Any], repeat: int = 15) -> tuple[float, float]:
    """(first call, median of the next `repeat`) in milliseconds."""
    first = timed(action) * 1000
    rest = [timed(action) * 1000 for _ in range(repeat)]
    return first, statistics.median(rest)


def report_latency(label: str, first: float, warm: float) -> None:
    print(
        f"  {label:<44} first {first:7.1f} ms, then {warm:6.1f} ms  {verdict(warm < GOAL_QUERY_MS)}"
    )


def bench_queries(site: Path, target: str, scratch: Path) -> None:
    queries = {
        f"--target {target}": Query(target=target),
        "--arch arm64": Query(architecture="arm64"),
        "(no filter: latest.json)": Query(),
        "--all-versions (index.json)": Query(all_versions=True),
    }
    print("\nquery latency, library call (IndexClient.query):")
    for label, query in queries.items():
        client = IndexClient(site)
        report_latency(f"local   {label}", *latency(lambda c=client, q=query: c.query(q)))
    with serving(site) as url:
        for label, query in queries.items():
            cache = Path(tempfile.mkdtemp(dir=scratch))
            client = IndexClient(url, cache_dir=cache)
            report_latency(f"http    {label}", *latency(lambda c=client, q=query: c.query(q)))
        print("  (http: the first call downloads, the next ones are conditional GETs answered 304)")
        command = ["image-catalog", "query", "--index", url, "--target", target, "--json"]
        env = {**os.environ, "IMAGE_CATALOG_CACHE_DIR": str(scratch / "cli-cache")}
        run = functools.partial(subprocess.run, command, env=env, capture_output=True, check=True)
        first, warm = latency(run, repeat=5)
        print(
            f"  whole CLI process, http --target {target}: first {first:.0f} ms, then "
            f"{warm:.0f} ms (most of it is starting Python and importing pydantic)"
        )


def main() -> None:
    parser_ = argparse.ArgumentParser(description=__doc__)
    parser_.add_argument("--entries", type=int, default=20000)
    parser_.add_argument("--catalog", type=Path, help="keep the generated catalog here")
    parser_.add_argument("--runs", type=int, default=3)
    args = parser_.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        catalog = catalog_for(args, scratch)
        site = scratch / "site"
        bench_build(catalog, site, args.runs)
        target = bench_sizes(site)
        bench_queries(site, target, scratch)


if __name__ == "__main__":
    main()
