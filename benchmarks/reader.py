"""Time whole `image-catalog query` processes against the floor J on a built site.

python benchmarks/reader.py --site DIR [--target T] [--runs 5]

J is a Python process that `json.load`s the site's index.json. Goals: a whole
`image-catalog query --all-versions --json` process within 1.0 J (faster than the naive load), and
a whole `image-catalog query --target T` process over HTTP on loopback within 150 ms (the cache
warm: conditional GETs answered 304). Each command runs --runs times, interleaved with J, and the
fastest run counts (wall and CPU time of the child process), so a busy machine skews both sides
alike. Build the site once (`image-catalog index build`, or benchmarks/index.py) and reuse it.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from static import serving

GOAL_ALL_VERSIONS_J = 1.0
GOAL_HTTP_TARGET_MS = 150.0


def run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one process, its output thrown away."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, env=env, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def fastest(commands: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, Any]:
    best = {label: (float("inf"), float("inf")) for label in commands}
    for _ in range(runs):
        for label, command in commands.items():
            wall, cpu = run(command, env)
            best[label] = (min(best[label][0], wall), min(best[label][1], cpu))
    return best


def verdict(ok: bool) -> str:
    return "meets the goal" if ok else "MISSES the goal"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--site", type=Path, required=True, help="a site built by index build")
    parser.add_argument("--target", default="rpi4", help="the target of the HTTP query")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    site = args.site.resolve()
    tool = [sys.executable, "-m", "image_catalog", "query"]
    with tempfile.TemporaryDirectory() as cache, serving(site) as url:
        env = {**os.environ, "IMAGE_CATALOG_CACHE_DIR": cache}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: modules load from bytecode
        http = [*tool, "--index", url, "--target", args.target]
        run(http, env)  # fills the cache: the timed runs revalidate it
        commands = {
            "J: python -c json.load(index.json)": [
                sys.executable,
                "-c",
                f"import json; json.load(open({str(site / 'index.json')!r}, 'rb'))",
            ],
            "query --all-versions --json": [
                *tool,
                "--index",
                str(site),
                "--all-versions",
                "--json",
            ],
            f"query --target {args.target} (folder)": [
                *tool,
                "--index",
                str(site),
                "--target",
                args.target,
            ],
            f"query --target {args.target} (HTTP, cache warm)": http,
        }
        best = fastest(commands, args.runs, env)
    j_wall, j_cpu = best["J: python -c json.load(index.json)"]
    load = os.getloadavg()[0]
    print(f"fastest of {args.runs} runs, {os.cpu_count()} CPUs, load {load:.1f}; {site}")
    print(f"  {'command':<46} {'wall':>8} {'':>7} {'CPU':>8} {'':>7}")
    for label, (wall, cpu) in best.items():
        print(
            f"  {label:<46} {wall * 1000:6.0f} ms {wall / j_wall:5.2f} J "
            f"{cpu * 1000:6.0f} ms {cpu / j_cpu:5.2f} J"
        )
    all_wall, all_cpu = best["query --all-versions --json"]
    http_wall = best[f"query --target {args.target} (HTTP, cache warm)"][0] * 1000
    print(
        f"  query --all-versions --json: {all_wall / j_wall:.2f} J wall, {all_cpu / j_cpu:.2f} J "
        f"CPU  {verdict(all_wall / j_wall <= GOAL_ALL_VERSIONS_J)} (<= {GOAL_ALL_VERSIONS_J} J)"
    )
    print(
        f"  query --target over HTTP: {http_wall:.0f} ms  "
        f"{verdict(http_wall <= GOAL_HTTP_TARGET_MS)} (<= {GOAL_HTTP_TARGET_MS:.0f} ms)"
    )


if __name__ == "__main__":
    main()
