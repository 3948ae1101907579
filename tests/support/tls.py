"""A self-signed certificate for 127.0.0.1, made with the openssl command, for loopback servers
that speak TLS (a registry, a site). The key never leaves the folder it is made in."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.registry import require_tools


def loopback_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files in `folder`: self-signed, for the IP address 127.0.0.1."""
    require_tools("openssl")
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key
