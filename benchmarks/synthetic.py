"""Generate a synthetic catalog of N image versions (the shipped vocabulary and registries).

python benchmarks/synthetic.py --entries 10000 --out /tmp/catalog
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from image_catalog.manifest.load import dump_document
from image_catalog.manifest.model import API_VERSION, schema_header

REPO = Path(__file__).resolve().parent.parent
HOST = "quay.io"
BOARDS = [("rpi4", ["aarch64"]), ("ridesx4", ["aarch64"]), ("acrn", ["x86_64"])]
ANY_ARCH = ["qemu", "pc", "aws"]
DISTROS = ["autosd9-sig", "autosd10", "cs9", "rhivos-core-2.0", "f41"]


def _digest(*parts: object) -> str:
    return "sha256:" + hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def entry(i: int, rng: random.Random) -> tuple[str, str, dict[str, object]]:
    """One realistic entry: a multi-arch bootc image, or a board disk image with partitions."""
    name = f"image-{i // 10:05d}"
    version = f"1.{i % 10}.0"
    published = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    repo = f"{HOST}/synthetic/{name}"
    if rng.random() < 0.5:
        target = rng.choice(ANY_ARCH)
        arches = ["x86_64", "aarch64"]
        variants = [
            {
                "architecture": arch,
                "container": {
                    "ref": f"{repo}@{_digest(i, arch)}",
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "size": 1200 + i % 97,
                },
            }
            for arch in arches
        ]
        extra: dict[str, object] = {
            "bootc": True,
            "buildMode": "bootc",
            "index": {
                "ref": f"{repo}@{_digest(i, 'index')}",
                "tag": version,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "size": 700,
            },
        }
    else:
        target, arches = rng.choice(BOARDS)
        files = [
            {
                "title": f"{part}.img.gz",
                "mediaType": "application/vnd.automotive.disk.raw+gzip",
                "compression": "gzip",
                "sha256": _digest(i, part)[7:],
                "size": 1_000_000 + i,
                "decompressedSize": 4_000_000 + i,
                "partition": part,
            }
            for part in ("boot", "rootfs")
        ]
        variants = [
            {
                "architecture": arches[0],
                "disk": {
                    "ref": f"{repo}@{_digest(i, 'disk')}",
                    "tag": "disk",
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "size": 900,
                    "artifactType": "application/vnd.automotive.disk.raw",
                    "files": files,
                },
            }
        ]
        extra = {"buildMode": "image", "exportFormat": "raw"}
    spec: dict[str, object] = {
        "displayName": f"Synthetic image {i}",
        "distro": rng.choice(DISTROS),
        "targets": [{"name": target, "verified": rng.random() < 0.3}],
        **extra,
        "tags": rng.sample(["nightly", "production", "developer"], k=rng.randint(0, 2)),
        "variants": variants,
        "source": {
            "imageBuild": {
                "name": f"build-{i}",
                "namespace": "builds",
                "completionTime": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        },
        "publishedAt": (published + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return name, version, spec


def generate(out: Path, entries: int, seed: int = 1) -> Path:
    """Write a catalog of `entries` images into `out` (replacing it)."""
    shutil.rmtree(out, ignore_errors=True)
    (out / "images").mkdir(parents=True)
    shutil.copy(REPO / "catalog/vocabulary.yaml", out / "vocabulary.yaml")
    shutil.copytree(REPO / "catalog/registries", out / "registries")
    rng = random.Random(seed)
    header = schema_header("CatalogImage", 3)
    for i in range(entries):
        name, version, spec = entry(i, rng)
        doc = {
            "apiVersion": API_VERSION,
            "kind": "CatalogImage",
            "metadata": {"name": name, "version": version},
            "spec": spec,
        }
        folder = out / "images" / name
        folder.mkdir(exist_ok=True)
        (folder / f"{version}.yaml").write_text(dump_document(doc, header))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    generate(args.out, args.entries)
    print(f"wrote {args.entries} entries to {args.out}")


if __name__ == "__main__":
    main()
