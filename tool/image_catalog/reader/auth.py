"""A registry's credentials, found where podman, skopeo and oras find them.

The files, in order: `--authfile` (only it, when given), else `$REGISTRY_AUTH_FILE` (only it,
when set), else the first of `$XDG_RUNTIME_DIR/containers/auth.json`,
`~/.config/containers/auth.json` and `~/.docker/config.json` that has an entry for the host.
An entry is read from the file's `auths` object: its key is the host (`host:port`), optionally
with a repository path (`host/namespace`, the longest match wins, as podman does) or written as
a URL (`https://host/v1/`, as docker writes it); its value's `auth` is base64 of `user:password`.

Not supported: credential helpers (`credHelpers`, `credsStore`: an external program per
registry) and docker's `identitytoken`; when a registry asks for credentials and a file leaves
them to a helper, the message says so.

Invariants: a file named by the user (`--authfile`, `$REGISTRY_AUTH_FILE`) must exist and parse;
a default file that does not exist is skipped, one that exists but cannot be read or parsed is an
error naming it. No message ever holds a credential or any part of the file's content beyond the
host key; `StoredLogin` does not show its password in `repr`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from image_catalog.errors import CatalogError
from image_catalog.text import printable

AUTH_FILE_ENV = "REGISTRY_AUTH_FILE"
MAX_AUTH_FILE = 4 << 20  # an auth file holds a few entries; anything larger is not one


@dataclass(frozen=True)
class StoredLogin:
    """A user name and password for one registry, and the file they came from (for messages)."""

    username: str
    password: str = field(repr=False)
    source: Path

    def basic(self) -> str:
        """The `Authorization` header value for HTTP Basic."""
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


@dataclass(frozen=True)
class Found:
    """What the search found for one host: credentials (or none) and the files looked at."""

    credentials: StoredLogin | None
    searched: tuple[Path, ...]
    helper: Path | None = None  # a file that leaves this host to a credential helper

    def describe(self) -> str:
        """Which auth file was used, or which were searched; never their content."""
        if self.credentials is not None:
            return f"credentials from {self.credentials.source}"
        if self.helper is not None:
            return (
                f"{self.helper} leaves its credentials to a credential helper (credHelpers or "
                "credsStore), which image-catalog does not run; write them to an auth file with "
                "`podman login --authfile FILE` and pass --authfile FILE"
            )
        if not self.searched:
            return "no auth file found"
        return "no credentials for it in " + ", ".join(str(p) for p in self.searched)


def candidate_files(authfile: str | Path | None) -> tuple[list[Path], bool]:
    """The auth files to search, in order, and whether they were named (must exist)."""
    if authfile is not None:
        return [Path(authfile)], True
    named = os.environ.get(AUTH_FILE_ENV)
    if named:
        return [Path(named)], True
    paths: list[Path] = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        paths.append(Path(runtime) / "containers" / "auth.json")
    home = Path.home()
    config = os.environ.get("XDG_CONFIG_HOME")
    paths.append((Path(config) if config else home / ".config") / "containers" / "auth.json")
    paths.append(home / ".docker" / "config.json")
    return paths, False


def find_credentials(host: str, repository: str, authfile: str | Path | None = None) -> Found:
    """The credentials for `host`/`repository` from the first auth file that has them."""
    paths, named = candidate_files(authfile)
    searched: list[Path] = []
    helper: Path | None = None
    for path in paths:
        document = _load(path, named)
        if document is None:
            continue
        searched.append(path)
        credentials = _lookup(document, path, host, repository)
        if credentials is not None:
            return Found(credentials, tuple(searched))
        if helper is None and _names_helper(document, host):
            helper = path
    return Found(None, tuple(searched), helper)


def _load(path: Path, named: bool) -> dict[str, object] | None:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_AUTH_FILE + 1)
    except FileNotFoundError:
        if named:
            raise CatalogError(f"{path}: the auth file does not exist") from None
        return None
    except OSError as exc:
        raise CatalogError(f"{path}: the auth file cannot be read ({exc.strerror})") from None
    if len(data) > MAX_AUTH_FILE:
        raise CatalogError(f"{path}: not an auth file (over {MAX_AUTH_FILE >> 20} MiB)")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        # The parser's message quotes the content: never shown.
        raise CatalogError(f"{path}: the auth file is not valid JSON") from None
    if not isinstance(document, dict):
        raise CatalogError(f"{path}: the auth file is not a JSON object")
    return document


def _key_host(key: str) -> str:
    """An `auths` key as host[/path]: a scheme and docker's `/v1/` suffix taken off."""
    for prefix in ("https://", "http://"):
        key = key.removeprefix(prefix)
    return key.removesuffix("/").removesuffix("/v1").removesuffix("/v2")


def _lookup(
    document: dict[str, object], path: Path, host: str, repository: str
) -> StoredLogin | None:
    auths = document.get("auths", {})
    if not isinstance(auths, dict):
        raise CatalogError(f"{path}: `auths` is not a JSON object")
    wanted = f"{host}/{repository}"
    best: tuple[int, object] | None = None
    for key, value in auths.items():
        name = _key_host(str(key))
        matches = name == host or wanted == name or wanted.startswith(name + "/")
        if matches and (best is None or len(name) > best[0]):
            best = (len(name), value)
    if best is None:
        return None
    entry = best[1]
    token = entry.get("auth") if isinstance(entry, dict) else None
    if not isinstance(token, str) or not token:
        raise CatalogError(
            f"{path}: the entry for {printable(host)} has no `auth` value (only `auth` is read: "
            "identity tokens and credential helpers are not supported)"
        )
    try:
        pair = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise CatalogError(
            f"{path}: the `auth` value for {printable(host)} is not base64 of user:password"
        ) from None
    username, colon, password = pair.partition(":")
    if not colon or not username:
        raise CatalogError(
            f"{path}: the `auth` value for {printable(host)} is not base64 of user:password"
        )
    return StoredLogin(username, password, path)


def _names_helper(document: dict[str, object], host: str) -> bool:
    """Whether the file leaves `host`'s credentials to a helper (only said when they are needed:
    a default `credsStore` must not stop an anonymous pull)."""
    helpers = document.get("credHelpers")
    return (isinstance(helpers, dict) and host in helpers) or bool(document.get("credsStore"))
