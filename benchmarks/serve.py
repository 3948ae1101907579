"""Serve a site with nginx and send it 1,000 concurrent requests; then 1,000 concurrent queries.

python benchmarks/serve.py --site DIR [--requests 1000] [--threads 16]

The site is any `index build` output (benchmarks/run builds one of 20,000 entries). nginx (the
Debian package) gets a config written here, listens on 127.0.0.1 on a free port, and is stopped
by its PID. The requests mix latest.json, views, image and version documents, plain (200 with a
body, gzip when asked) and conditional (If-None-Match with the ETag, 304), all started at once from
a bounded asyncio client. Then `IndexClient` over HTTP, its cache warmed, answers queries from a
pool of threads: first with max_age=0 (every query revalidates its two files with conditional
requests on the connection its thread keeps open; the figure the goal is judged on), then with
the client's default freshness window (most queries then make no request). Goals: 0 errors and
p99 <= 1 s for the requests; p99 <= 50 ms per query.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from image_catalog.reader.client import DEFAULT_MAX_AGE, IndexClient, Query

GOAL_REQUEST_P99_S = 1.0
GOAL_QUERY_P99_S = 0.050

NGINX_CONF = """\
worker_processes 2;
pid {scratch}/nginx.pid;
error_log {scratch}/error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 5;
    client_body_temp_path {scratch}/body;
    proxy_temp_path {scratch}/proxy;
    fastcgi_temp_path {scratch}/fastcgi;
    uwsgi_temp_path {scratch}/uwsgi;
    scgi_temp_path {scratch}/scgi;
    types {{ application/json json; text/plain txt; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {site};
        etag on;
        gzip_static on;
        location / {{ try_files $uri =404; }}
    }}
}}
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50: float
    p99: float
    errors: int
    not_modified: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


@dataclass(frozen=True)
class QueryResult:
    queries: int
    threads: int
    seconds: float
    p50: float
    p99: float
    errors: int
    max_age: float = 0.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise SystemExit("nginx is missing: apt-get install nginx (benchmarks/run does)")
    return found


@contextlib.contextmanager
def nginx(site: Path) -> Iterator[str]:
    """nginx serving `site` on a free loopback port; stopped by its PID on the way out."""
    scratch = Path(tempfile.mkdtemp(prefix="image-catalog-nginx-"))
    os.chmod(scratch, 0o755)  # noqa: S103 - nginx's workers run as another user
    port = free_port()
    conf = scratch / "nginx.conf"
    conf.write_text(NGINX_CONF.format(scratch=scratch, port=port, site=site.resolve()))
    process = subprocess.Popen([nginx_binary(), "-c", str(conf), "-p", str(scratch)])
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"nginx did not start: {(scratch / 'error.log').read_text()}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        os.kill(process.pid, signal.SIGQUIT)  # graceful stop of the master and its workers
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(scratch, ignore_errors=True)


def sample_paths(site: Path, count: int, seed: int = 1) -> list[str]:
    """A mix of what clients read: latest.json, views, image documents and version documents."""
    rng = random.Random(seed)
    views = sorted(p.relative_to(site).as_posix() for p in site.glob("views/*/*/*.json"))
    images = sorted(p.relative_to(site).as_posix() for p in site.glob("images/*.json"))
    versions = sorted(p.relative_to(site).as_posix() for p in site.glob("images/*/*.json"))
    kinds = [["latest.json", "catalog.json"], views, images, versions]
    return [rng.choice(kinds[i % len(kinds)]) for i in range(count)]


async def _request(
    port: int, path: str, headers: dict[str, str], limit: asyncio.Semaphore
) -> tuple[float, int]:
    """(seconds, status) of one GET on its own connection; status 0 when it failed."""
    async with limit:
        started = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            lines = [f"GET /{path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            writer.close()
            await writer.wait_closed()
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            return time.perf_counter() - started, 0
        return time.perf_counter() - started, status


def etags(site: Path, base: str, paths: list[str]) -> dict[str, str]:
    """The ETag nginx gives each file (what a client keeps for its conditional requests)."""
    import urllib.request

    found = {}
    for path in sorted(set(paths)):
        request = urllib.request.Request(base + path, method="HEAD")  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            found[path] = response.headers["ETag"]
    return found


async def _load(port: int, work: list[tuple[str, dict[str, str], int]], limit: int) -> LoadResult:
    gate = asyncio.Semaphore(limit)
    started = time.perf_counter()
    results = await asyncio.gather(*(_request(port, p, h, gate) for p, h, _ in work))
    took = time.perf_counter() - started
    times = sorted(t for t, _ in results)
    errors = sum(
        1 for (_, status), (_, _, want) in zip(results, work, strict=True) if status != want
    )
    return LoadResult(
        requests=len(work),
        seconds=took,
        p50=statistics.median(times),
        p99=times[min(len(times) - 1, int(len(times) * 0.99))],
        errors=errors,
        not_modified=sum(1 for _, status in results if status == 304),
    )


def raise_open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def load_test(site: Path, base: str, requests: int, concurrency: int) -> LoadResult:
    raise_open_files(concurrency + 256)
    paths = sample_paths(site, requests)
    tags = etags(site, base, paths)
    work: list[tuple[str, dict[str, str], int]] = []
    for i, path in enumerate(paths):
        if i % 2:  # conditional, as a client with a cached copy asks
            work.append((path, {"If-None-Match": tags[path]}, 304))
        else:
            work.append((path, {"Accept-Encoding": "gzip"} if i % 4 == 0 else {}, 200))
    port = int(base.rstrip("/").rsplit(":", 1)[1])
    return asyncio.run(_load(port, work, concurrency))


def query_test(
    base: str, queries: int, threads: int, scratch: Path, max_age: float = 0.0
) -> QueryResult:
    """`queries` IndexClient queries from `threads` threads, each over a warm on-disk cache.

    With max_age=0 (the default here) every query revalidates the files it reads: two
    conditional requests, answered 304, on the connection its thread keeps open. With the
    client's default window (site.client.DEFAULT_MAX_AGE) most are answered from memory.
    """
    catalog = json.loads((scratch / "site-catalog.json").read_text())
    targets = sorted(name for name, c in catalog["views"]["target"].items() if c["latest"])
    distros = sorted(name for name, c in catalog["views"]["distro"].items() if c["latest"])
    mix = [Query(target=t) for t in targets] + [Query(distro=d) for d in distros] + [Query()]
    cache = scratch / "client-cache"
    local = threading.local()

    def client() -> IndexClient:
        if not hasattr(local, "client"):
            local.client = IndexClient(base, cache_dir=cache, max_age=max_age)
        found: IndexClient = local.client
        return found

    warm = IndexClient(base, cache_dir=cache, max_age=max_age)
    for query in mix:
        warm.query(query)
    errors = 0

    def one(i: int) -> float:
        nonlocal errors
        started = time.perf_counter()
        try:
            result = client().query(mix[i % len(mix)])
            if result.warnings:
                errors += 1
        except Exception:  # a benchmark counts failures instead of stopping
            errors += 1
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        times = sorted(pool.map(one, range(queries)))
    took = time.perf_counter() - started
    return QueryResult(
        queries=queries,
        threads=threads,
        seconds=took,
        p50=statistics.median(times),
        p99=times[min(len(times) - 1, int(len(times) * 0.99))],
        errors=errors,
        max_age=max_age,
    )


def run(site: Path, requests: int, threads: int) -> tuple[LoadResult, list[QueryResult]]:
    with tempfile.TemporaryDirectory(prefix="image-catalog-serve-") as tmp:
        scratch = Path(tmp)
        shutil.copy(site / "catalog.json", scratch / "site-catalog.json")
        with nginx(site) as base:
            load = load_test(site, base, requests, requests)
            queries = [
                query_test(base, requests, threads, scratch, max_age)
                for max_age in (0.0, DEFAULT_MAX_AGE)
            ]
    return load, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--site", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16, help="query threads (default: 16)")
    args = parser.parse_args()
    load, runs = run(args.site, args.requests, args.threads)
    print(
        f"nginx, {load.requests} concurrent requests: {load.per_second:.0f} req/s, "
        f"p50 {load.p50 * 1000:.0f} ms, p99 {load.p99 * 1000:.0f} ms, {load.errors} errors "
        f"({load.not_modified} answered 304)"
    )
    for queries in runs:
        print(
            f"IndexClient, {queries.queries} queries from {queries.threads} threads (warm cache, "
            f"max_age={queries.max_age:g}): p50 {queries.p50 * 1000:.1f} ms, "
            f"p99 {queries.p99 * 1000:.1f} ms, {queries.errors} errors"
        )


if __name__ == "__main__":
    main()
