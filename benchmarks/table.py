"""Every benchmark in one table, with the machine and the floors measured in the same run.

benchmarks/run [--catalog DIR] [--entries 20000] [--repeats 3] [--skip-registry]
(installs what is missing)

Floors, measured on the same files in this run so that a busy machine moves them with the figures:
P, one Python process parsing every catalog file with PyYAML's C loader; J, one Python process
json.load-ing the site's index.json. Each figure is a whole `image-catalog` process (what a user
or CI waits for) unless the table says otherwise, in seconds and as a ratio to its floor; peak
memory is the largest resident size of the process and its workers together, sampled every 20 ms.
Each figure, floors included, is the median of --repeats runs, each started once the disk has
flushed the writes of the run before (sync).
The catalog is generated once (about a minute and a half for 20,000 entries) into --catalog and
reused, committed in a git repository of its own so that blob ids come from git.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import serve  # noqa: E402
from synthetic import generate  # noqa: E402

PYTHON = sys.executable
TOOL = [PYTHON, "-m", "image_catalog"]
FLOOR_P = (
    "import glob, sys, yaml\n"
    "for name in sorted(glob.glob(sys.argv[1] + '/images/*/*.yaml')):\n"
    "    with open(name, 'rb') as stream:\n"
    "        yaml.load(stream, Loader=yaml.CSafeLoader)\n"
)
FLOOR_J = "import json, sys\nwith open(sys.argv[1], 'rb') as f:\n    json.load(f)\n"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Run:
    seconds: float
    peak: int  # bytes, the process and its children together
    output: str


@dataclass(frozen=True)
class Row:
    measure: str
    value: str
    ratio: str
    goal: str
    met: bool | None  # None: reported, no goal


def _exit_time(process: subprocess.Popen[bytes]) -> float:
    process.wait()
    return time.perf_counter()


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (0 once it is gone)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as kids:
                    stack += [int(k) for k in kids.read().split()]
        except (OSError, ValueError):
            continue
    return total


def measure(
    command: Sequence[str], *, ok: Sequence[int] = (0,), env: dict[str, str] | None = None
) -> Run:
    # The writes of the run before (a site of 168 MB) are flushed first, untimed, so that each run
    # pays for its own writes only (as `hyperfine --prepare sync` does).
    os.sync()
    with tempfile.TemporaryFile() as sink:  # a pipe would fill up and stall a large output
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        # A thread waits for the exit, so the time ends when the process does (not at the next
        # memory sample, up to 20 ms later: a tenth of the shortest figures).
        ended: list[float] = []
        reaper = threading.Thread(target=lambda: ended.append(_exit_time(process)), daemon=True)
        reaper.start()
        peak = 0
        while reaper.is_alive():
            peak = max(peak, _tree_rss(process.pid))
            reaper.join(0.02)
        seconds = ended[0] - started
        sink.seek(0)
        output = sink.read().decode(errors="replace")
    if process.returncode not in ok:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}:\n{output[-4000:]}")
    return Run(seconds, peak, output)


def catalog_for(path: Path, entries: int) -> Path:
    existing = len(list(path.glob("images/*/*.yaml"))) if path.is_dir() else 0
    if existing != entries:
        print(f"generating {entries} entries into {path} (once) ...", file=sys.stderr, flush=True)
        generate(path, entries)
        shutil.rmtree(path / ".git", ignore_errors=True)
    if not (path / ".git").exists():
        git = [
            "git",
            "-C",
            str(path),
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
        ]
        subprocess.run([*git, "init", "-q"], check=True)
        (path / ".gitignore").write_text("/.cache/\n")
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "synthetic catalog"], check=True)
    return path


def change_one(catalog: Path) -> tuple[Path, bytes]:
    """Edit one entry's displayName (as a pull request would); returns what to restore."""
    entry = sorted(catalog.glob("images/*/*.yaml"))[len(list(catalog.glob("images/*"))) // 2]
    original = entry.read_bytes()
    text = original.decode()
    entry.write_text(re.sub(r"displayName: (.*)", r"displayName: \1 (edited)", text, count=1))
    return entry, original


def after_one_change(catalog: Path, command: Sequence[str]) -> Run:
    """`command` timed after one entry changed; then run again on the original, untimed, so
    that the next measure starts from a cache that knows every file."""
    entry, original = change_one(catalog)
    try:
        return measure(command)
    finally:
        entry.write_bytes(original)
        measure(command)


def verdict(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "MISSED")


def row(
    measure: str, seconds: float, floor: float, name: str, most: float, cap: float | None
) -> Row:
    ratio = seconds / floor
    goal = f"<= {most:g} {name}" + (f" and <= {cap:g} s" if cap is not None else "")
    met = ratio <= most and (cap is None or seconds <= cap)
    return Row(measure, f"{seconds:.2f} s", f"{ratio:.2f} {name}", goal, met)


def memory_row(measure: str, run: Run) -> Row:
    mib = run.peak / MIB
    return Row(measure, f"{mib:.0f} MiB", "", "<= 500 MiB", mib <= 500)


def median(runs: Sequence[Run]) -> Run:
    """The run of median time, with the largest peak memory of them all."""
    middle = sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]
    return Run(middle.seconds, max(run.peak for run in runs), middle.output)


def offline_rows(
    catalog: Path, scratch: Path, repeats: int
) -> tuple[list[Row], float, float, Path]:
    """Each figure is the median of `repeats` runs, floors included (a busy moment moves one
    run, not the figure)."""
    cache = catalog / ".cache"
    shutil.rmtree(cache, ignore_errors=True)
    p = median([measure([PYTHON, "-c", FLOOR_P, str(catalog)]) for _ in range(repeats)]).seconds
    validate = [*TOOL, "validate", "--catalog", str(catalog)]
    colds = []
    for _ in range(repeats):
        shutil.rmtree(cache, ignore_errors=True)
        colds.append(measure(validate))
    cold = median(colds)
    warm = median([after_one_change(catalog, validate) for _ in range(repeats)])

    def build(out: Path) -> list[str]:
        return [*TOOL, "index", "build", "--catalog", str(catalog), "--out", str(out)]

    # Each cold build writes a site of its own, none is removed before the others ran: on ext4
    # without a journal (as here), creating files within minutes of deleting many makes the
    # kernel skip each recently freed inode, seconds of system time that a build in a fresh
    # checkout does not pay. One build right after a removal is measured too, apart.
    builds = []
    for number in range(repeats):
        shutil.rmtree(cache, ignore_errors=True)
        # What a fresh checkout runs: nothing cached, no site.
        builds.append(measure(build(scratch / f"cold-{number}" / "site")))
    build_cold = median(builds)
    shutil.rmtree(scratch / "cold-0")
    shutil.rmtree(cache, ignore_errors=True)
    after_removal = measure(build(scratch / "after-removal" / "site"))
    site = scratch / f"cold-{repeats - 1}" / "site"
    measure(build(site))  # the site replaced is kept beside it (.site.previous), as in use
    build_warm = median([after_one_change(catalog, build(site)) for _ in range(repeats)])
    build_plain = measure([*build(site), "--no-cache"])
    floor_j = [PYTHON, "-c", FLOOR_J, str(site / "index.json")]
    j = median([measure(floor_j) for _ in range(2 * repeats - 1)]).seconds  # short: more runs
    rows = [
        Row(
            "floor P: PyYAML C loader, every catalog file, one process",
            f"{p:.2f} s",
            "1 P",
            "",
            None,
        ),
        Row("floor J: python json.load of index.json", f"{j:.2f} s", "1 J", "", None),
        row("validate, cold (no cache)", cold.seconds, p, "P", 1.0, 4.0),
        row("validate after one file changed", warm.seconds, p, "P", 0.25, 1.0),
        row("index build with validation, cold", build_cold.seconds, p, "P", 1.3, 5.0),
        row("index build after one file changed", build_warm.seconds, p, "P", 0.35, 1.5),
        Row(
            "index build, cold, right after removing a site (ext4 skips freed inodes)",
            f"{after_removal.seconds:.2f} s",
            f"{after_removal.seconds / p:.2f} P",
            "",
            None,
        ),
        Row(
            "index build --no-cache (over the previous site)",
            f"{build_plain.seconds:.2f} s",
            f"{build_plain.seconds / p:.2f} P",
            "",
            None,
        ),
        memory_row("peak memory, validate (cold)", cold),
        memory_row("peak memory, index build (cold)", build_cold),
        memory_row("peak memory, index build --no-cache", build_plain),
    ]
    return rows, p, j, site


def query_rows(site: Path, j: float, scratch: Path, repeats: int) -> list[Row]:
    local = [*TOOL, "query", "--index", str(site), "--all-versions", "--json"]
    run = median([measure(local) for _ in range(2 * repeats - 1)])
    rows = [row("query --all-versions --json (local site)", run.seconds, j, "J", 1.0, None)]
    with serve.nginx(site) as base:
        target = "qemu"
        env = {"IMAGE_CATALOG_CACHE_DIR": str(scratch / "cli-cache")}
        command = [*TOOL, "query", "--index", base, "--target", target, "--json"]
        measure(command, env=env)  # warms the client cache
        http = median([measure(command, env=env) for _ in range(2 * repeats - 1)])
        rows.append(
            Row(
                f"query --target {target} over HTTP (nginx, warm client cache)",
                f"{http.seconds * 1000:.0f} ms",
                f"{http.seconds / j:.2f} J",
                "<= 150 ms",
                http.seconds <= 0.150,
            )
        )
        load = serve.load_test(site, base, 1000, 1000)
        rows.append(
            Row(
                "nginx, 1,000 concurrent requests (mixed, half conditional)",
                f"{load.per_second:.0f} req/s, p50 {load.p50 * 1000:.0f} ms, p99 "
                f"{load.p99 * 1000:.0f} ms, {load.errors} errors",
                "",
                "0 errors, p99 <= 1 s",
                load.errors == 0 and load.p99 <= serve.GOAL_REQUEST_P99_S,
            )
        )
        shutil.copy(site / "catalog.json", scratch / "site-catalog.json")
        queries = serve.query_test(base, 1000, 16, scratch)
        rows.append(
            Row(
                f"IndexClient, 1,000 queries from {queries.threads} threads, warm cache, "
                "max_age=0 (every query revalidates)",
                f"p50 {queries.p50 * 1000:.1f} ms, p99 {queries.p99 * 1000:.1f} ms, "
                f"{queries.errors} errors",
                "",
                "p99 <= 50 ms",
                queries.errors == 0 and queries.p99 <= serve.GOAL_QUERY_P99_S,
            )
        )
    return rows


def jsonschema_row(catalog: Path, validate_cold: float, entries: int, subset: int) -> Row:
    """check-jsonschema over a subset (its time per file measured past its start-up), scaled."""
    tool = shutil.which("check-jsonschema")
    if tool is None:
        return Row("check-jsonschema (PyPI)", "not installed", "", "", None)
    schema = HERE.parent / "schemas/catalogimage.schema.json"
    files = sorted(str(p) for p in catalog.glob("images/*/*.yaml"))
    one = measure([tool, "--schemafile", str(schema), files[0]]).seconds
    some = measure([tool, "--schemafile", str(schema), *files[:subset]]).seconds
    scaled = one + (some - one) * len(files) / subset
    return Row(
        f"check-jsonschema, schema only, {subset} files measured, scaled to {len(files)}",
        f"{scaled:.1f} s",
        f"{scaled / validate_cold:.1f}x validate cold",
        "validate keeps its lead",
        scaled > validate_cold,
    )


def status_rows() -> list[Row]:
    """status.json after a day of hourly checks at 10,000 and 20,000 entries (no registry): sizes,
    with no floor, against the goal set at 10,000 entries (1.5 MB, 300 kB gzipped), scaled."""
    command = [PYTHON, str(HERE / "status_size.py"), "--entries", "10000", "--entries", "20000"]
    found = measure([*command, "--json"])
    return [Row(**row) for row in json.loads(found.output.strip().splitlines()[-1])]


def registry_rows() -> list[Row]:
    """The earlier benchmarks against a loopback registry (skopeo, docker-registry)."""
    rows = []
    online = measure([PYTHON, str(HERE / "validate_online.py"), "--entries", "200", "--runs", "1"])
    found = re.search(r"concurrent \((\d+) workers\): ([\d.]+) s", online.output)
    if found:
        rows.append(
            Row(
                f"validate --online, 200 entries, {found[1]} workers (in-process)",
                f"{found[2]} s",
                "",
                "",
                None,
            )
        )
    publish = measure([PYTHON, str(HERE / "publish.py"), "--runs", "3"])
    found = re.search(r"median ([\d.]+) s", publish.output)
    if found:
        seconds = float(found[1])
        rows.append(
            Row(
                "publish one ImageBuild (a whole process)",
                f"{seconds:.2f} s",
                "",
                "<= 30 s",
                seconds <= 30,
            )
        )
    pull = measure([PYTHON, str(HERE / "pull.py"), "--json"])
    rows += [Row(**found) for found in json.loads(pull.output.strip().splitlines()[-1])]
    if (HERE / "health.py").exists():
        health = measure([PYTHON, str(HERE / "health.py"), "--entries", "1000"])
        found = re.search(r"check, no history: ([\d.]+) s", health.output)
        if found:
            seconds = float(found[1])
            rows.append(
                Row(
                    "check (health), 1,000 entries, no history",
                    f"{seconds:.1f} s",
                    "",
                    "<= 60 s",
                    seconds <= 60,
                )
            )
    return rows


def render(rows: list[Row], machine: str) -> str:
    header = ("measure", "figure", "ratio to floor", "goal", "")
    table = [header, *((r.measure, r.value, r.ratio, r.goal, verdict(r.met)) for r in rows)]
    lines = [machine, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in table[1:]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--catalog", type=Path, default=Path(tempfile.gettempdir()) / "image-catalog-bench"
    )
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--jsonschema-files", type=int, default=1000)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per figure; the median is reported"
    )
    parser.add_argument(
        "--skip-registry",
        action="store_true",
        help="leave out the benchmarks that need skopeo and a registry",
    )
    args = parser.parse_args()
    catalog = catalog_for(args.catalog, args.entries)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="image-catalog-bench-") as tmp:
        scratch = Path(tmp)
        os.chmod(scratch, 0o755)  # noqa: S103 - nginx's workers read the site
        rows, _, j, site = offline_rows(catalog, scratch, args.repeats)
        validate_cold = float(rows[2].value.split()[0])
        rows += query_rows(site, j, scratch, args.repeats)
        rows.append(jsonschema_row(catalog, validate_cold, args.entries, args.jsonschema_files))
        rows += status_rows()
        if not args.skip_registry:
            rows += registry_rows()
    machine = (
        f"{os.cpu_count()} cores, load {load_before:.1f} before and {os.getloadavg()[0]:.1f} "
        f"after; {args.entries} entries; Python {sys.version.split()[0]}; each figure the "
        f"median of {args.repeats} runs"
    )
    print(render(rows, machine))


if __name__ == "__main__":
    main()
