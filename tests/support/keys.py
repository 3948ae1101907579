"""Signing keys made by the real ssh-keygen in temp folders, and the allowed-signers files that
trust them."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_key(folder: Path, name: str = "signing", *args: str) -> Path:
    """A fresh private key (ed25519 unless `args` say otherwise) and its .pub beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path), *args],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    return path


def allowed_signers(path: Path, *keys: Path) -> Path:
    lines = [
        f'catalog namespaces="image-catalog-index" {(k.parent / (k.name + ".pub")).read_text()}'
        for k in keys
    ]
    path.write_text("".join(lines))
    return path
