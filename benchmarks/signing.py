"""What signing costs the build, and what verifying costs a reader, on a synthetic catalog.

python benchmarks/signing.py --entries 20000 [--catalog DIR] [--runs 3]

Builds the site unsigned and signed (a throwaway ed25519 key made with ssh-keygen), then times
queries with and without a trust file: the library call (IndexClient, local folder and HTTP on
loopback) and the whole CLI process. Verification runs `ssh-keygen -Y verify` over SHA256SUMS once
per client; the per-file checks are one sha256 of the bytes already read. Also prints the import
cost of the reader's trust module (the sshsig package, the alternative, imports `cryptography`).
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

from image_catalog.build.render import build_site
from image_catalog.build.signing import SigningKey
from image_catalog.catalog.validate import validate_catalog
from image_catalog.reader.client import IndexClient, Query
from index import serving
from synthetic import generate


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median_ms(action: Callable[[], Any], repeat: int) -> float:
    return statistics.median(timed(action) * 1000 for _ in range(repeat))


def ask(where: str, cache: Path, trust: Path | None, query: Query) -> None:
    IndexClient(where, cache_dir=cache, trust=trust).query(query)


def git_catalog(args: argparse.Namespace, scratch: Path) -> Path:
    """A catalog in a git repository with one commit (a signed site names its commit)."""
    repo = scratch / "repo"
    catalog = repo / "catalog"
    if args.catalog is not None and args.catalog.is_dir():
        shutil.copytree(args.catalog, catalog)
    else:
        print(f"generating {args.entries} entries ...", flush=True)
        generate(catalog, args.entries)
        if args.catalog is not None:
            shutil.copytree(catalog, args.catalog)
    git = functools.partial(subprocess.run, cwd=repo, check=True, capture_output=True)
    git(["git", "init", "-q", "-b", "main"])
    git(["git", "add", "-A"])
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    git(["git", *identity, "commit", "-q", "-m", "catalog"])
    return catalog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--catalog", type=Path, help="keep the generated catalog here")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        catalog = git_catalog(args, scratch)
        loaded, report = validate_catalog(catalog)
        assert report.ok
        key_path = scratch / "keys" / "index"
        key_path.parent.mkdir()
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key_path)],
            check=True,
            stdin=subprocess.DEVNULL,
        )
        key = SigningKey.load(key_path)
        assert key is not None
        public = (key_path.parent / "index.pub").read_text()
        trust = scratch / "allowed_signers"
        trust.write_text(f'catalog namespaces="image-catalog-index" {public}')

        site = scratch / "site"

        def fresh(key: SigningKey | None) -> float:
            """One build into an empty folder (a rebuild would reuse the previous site's files)."""
            shutil.rmtree(site, ignore_errors=True)
            return timed(lambda: build_site(loaded, site, sign_key=key))

        unsigned = min(fresh(None) for _ in range(args.runs))
        signed = min(fresh(key) for _ in range(args.runs))
        sums = (site / "SHA256SUMS").stat().st_size
        print(f"\nindex build, {report.images} entries ({os.cpu_count()} CPUs):")
        print(f"  unsigned                   {unsigned:6.2f} s")
        print(f"  signed                     {signed:6.2f} s  (SHA256SUMS {sums / 1e6:.2f} MB)")

        print("\nquery --target rpi4, median of 9 (a new IndexClient per call, warm cache):")
        query = Query(target="rpi4")
        for label in ("local", "http"):
            with serving(site) as url:
                where = str(site) if label == "local" else url
                plain = median_ms(functools.partial(ask, where, scratch / "plain", None, query), 9)
                verified = median_ms(
                    functools.partial(ask, where, scratch / "trust", trust, query), 9
                )
            print(f"  {label:<6} unverified {plain:7.1f} ms   with --trust {verified:7.1f} ms")

        env = {**os.environ, "IMAGE_CATALOG_CACHE_DIR": str(scratch / "cli-cache")}
        command = ["image-catalog", "query", "--index", str(site), "--target", "rpi4", "--json"]
        run = functools.partial(subprocess.run, env=env, capture_output=True, check=True)
        plain = median_ms(lambda: run(command), 5)
        verified = median_ms(lambda: run([*command, "--trust", str(trust)]), 5)
        print(f"  CLI process, local: unverified {plain:.0f} ms, with --trust {verified:.0f} ms")

        importing = [sys.executable, "-X", "importtime", "-c", "import image_catalog.reader.trust"]
        lines = run(importing).stderr.decode().splitlines()
        total = int(lines[-1].split("|")[1])
        print(f"\nimport image_catalog.reader.trust (with its imports): {total / 1000:.1f} ms")


if __name__ == "__main__":
    main()
