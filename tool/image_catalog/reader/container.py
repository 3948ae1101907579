"""`pull --container`: a version's container image copied into a folder as an OCI image layout.

For a version that has no disk image for the board but a container image, the copy is skopeo's
(`skopeo copy docker://REF@DIGEST oci:DIR/NAME:VERSION`): skopeo fetches by the digest the index
pins and checks every blob's digest as it copies. The process starts only through
`image_catalog.process` (an argument list, never a shell; an allow-listed environment; a
deadline; killed with its group when the pull is interrupted).

Invariants: the reference given to skopeo is the index's `HOST/REPOSITORY@sha256:HEX`, prefixed
with `docker://` (so it can never read as an option); a skopeo that is missing is `CatalogError`
(exit 1) saying how to install it; a copy that fails is `RegistryUnavailable` (exit 4) with
skopeo's own last line, made printable; nothing the pull writes besides skopeo's layout.
"""

from __future__ import annotations

from pathlib import Path

from image_catalog import process
from image_catalog.errors import CatalogError, RegistryUnavailable
from image_catalog.site.contract import VariantDetail
from image_catalog.text import printable

# An image of several GiB over a slow link takes long; this bounds only a hung skopeo.
COPY_TIMEOUT = 6 * 3600.0
# What skopeo needs to find the consumer's own credentials and proxies, and nothing more.
INHERITED = (
    "HOME",
    "TMPDIR",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "REGISTRY_AUTH_FILE",
    "DOCKER_CONFIG",
    "CONTAINERS_REGISTRIES_CONF",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
INSTALL_HINT = "install skopeo (dnf install skopeo, apt install skopeo) and run the same command"


def copy_argv(
    variant: VariantDetail,
    layout: Path,
    tag: str,
    *,
    authfile: str | Path | None,
    tls_verify: bool,
    cert_dir: Path | None,
) -> list[str]:
    """The skopeo command that copies `variant`'s image into the layout `layout`, as `tag`."""
    argv = ["skopeo", "copy", "--quiet", f"--src-tls-verify={str(tls_verify).lower()}"]
    if authfile is not None:
        argv += ["--src-authfile", str(authfile)]
    if cert_dir is not None:
        argv += ["--src-cert-dir", str(cert_dir)]
    return [*argv, f"docker://{variant.ref}", f"oci:{layout}:{tag}"]


def copy_container(argv: list[str], where: str) -> None:
    """Run the copy; a failure said as skopeo said it, naming `where` (the image)."""
    running = process.Processes()
    try:
        done = process.run(
            argv,
            timeout=COPY_TIMEOUT,
            env=process.environment(INHERITED),
            within=running,
        )
    except process.ExecutableNotFound:
        raise CatalogError(
            f"{where}: copying a container image needs skopeo: {INSTALL_HINT}"
        ) from None
    except process.ProcessTimedOut:
        raise RegistryUnavailable(
            f"{where}: skopeo did not finish within {COPY_TIMEOUT:g} s; run the same command again"
        ) from None
    except BaseException:
        running.kill_all()  # Ctrl-C: skopeo is in a session of its own, out of the terminal's reach
        raise
    if done.code != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit {done.code}"]
        raise RegistryUnavailable(
            f"{where}: skopeo could not copy it: {printable(lines[-1][:400])}"
        )
