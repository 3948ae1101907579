"""A real, local OCI registry for tests: CNCF Distribution run as a subprocess, no Docker.

Tests that talk to a registry should hit a real one, so that the manifests, digests, error
messages and auth challenges they see are the ones production sees. Debian's ``docker-registry``
(Distribution 2.8) starts in well under a second on loopback, which makes that affordable.

With ``token=TokenIssuer(...)`` (support/tokens.py) the registry runs with ``auth: token`` and
trusts that issuer alone; the helpers here then answer its Bearer challenges with tokens the issuer
mints directly, so test content is pushed through the registry's API as usual. With
``tls=(certificate, key)`` it serves HTTPS with that certificate (``http.tls``), and the helpers
here trust exactly that certificate.

This module holds plain classes and functions; pytest fixtures wrapping them belong in a conftest.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from pathlib import Path
from typing import NamedTuple

import pytest

from support.service import Service

from .tokens import TokenIssuer

REGISTRY_BINARY = "docker-registry"
# What a test with a registry needs on PATH.
REGISTRY_TOOLS = ("skopeo", REGISTRY_BINARY, "htpasswd")
# Token-like, so a leak is easy to grep for in outputs.
REGISTRY_PASSWORD = "sha256~Zm9vYmFyLXRva2VuLXRoYXQtbXVzdC1uZXZlci1sZWFr"

# Media types accepted when fetching a manifest: everything a catalog may meet.
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)

_START_ATTEMPTS = 4
_ADDRESS_IN_USE = "address already in use"
# Sent on every response, so the start-up probe knows it reached this registry, not a neighbour
# that won a race for the same port.
_INSTANCE_HEADER = "X-Local-Registry-Instance"


class RegistryError(RuntimeError):
    """The local registry failed to start or answered an API call unexpectedly."""


class Response(NamedTuple):
    """An HTTP answer; unpacks as ``(status, headers, body)``."""

    status: int
    headers: Message
    body: bytes


def require_tools(*names: str) -> None:
    """Skip the test when a tool is missing, but fail it in CI, where a skip would hide a gap."""
    missing = [name for name in names if shutil.which(name) is None]
    if not missing:
        return
    message = f"required tool(s) not found on PATH: {', '.join(missing)}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true, so this is an error rather than a skip)", pytrace=False)
    pytest.skip(message)


def sha256_digest(data: bytes) -> str:
    """Return the OCI digest (``sha256:HEX``) of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_authfile(path: Path | str, host: str, user: str, password: str) -> Path:
    """Write a containers auth.json for ``host`` readable only by its owner, as skopeo expects.

    ``--authfile`` keeps the secret out of the process list, unlike ``--creds``.
    """
    target = Path(path)
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    content = json.dumps({"auths": {host: {"auth": token}}}, indent=2) + "\n"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # the file may have existed with a wider mode
        handle.write(content)
    return target


def upload_url(base_url: str, location: str, digest: str) -> str:
    """Turn an upload ``Location`` header (absolute or relative) into the final PUT URL."""
    absolute = urllib.parse.urljoin(base_url + "/", location)
    separator = "&" if urllib.parse.urlsplit(absolute).query else "?"
    return f"{absolute}{separator}{urllib.parse.urlencode({'digest': digest})}"


def pick_free_port() -> int:
    """Ask the kernel for a free loopback port; it may be taken again before the registry binds."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_htpasswd(user: str, password: str) -> str:
    """Return one bcrypt htpasswd line; the password goes through stdin, never argv."""
    result = subprocess.run(
        ["htpasswd", "-iBn", user],
        input=password,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if result.returncode != 0:
        raise RegistryError(f"htpasswd failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout.strip() + "\n"


class LocalRegistry(Service):
    """A Distribution registry on 127.0.0.1 with its own temp storage, optionally behind htpasswd
    or, with ``token``, behind a bearer-token issuer (started by the caller, before the registry).

    ``stop()`` keeps storage and port so ``restart()`` can simulate an outage that ends; ``close()``
    (or leaving the ``with`` block) stops it and removes the storage.
    """

    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        startup_timeout: float = 10.0,
        realm: str = "image-catalog-tests",
        token: TokenIssuer | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """tls: (certificate, key) PEM files to serve HTTPS with."""
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        if token is not None and username is not None:
            raise ValueError("a token registry takes its credentials from its token issuer")
        self.token = token
        self.username = username
        self.password = password
        self.startup_timeout = startup_timeout
        self.realm = realm
        self._port: int | None = None
        self._workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._instance = secrets.token_hex(8)
        self.tls = tls
        self._bearer: str | None = None  # the last token minted for a challenge
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
        if tls is not None:
            context = ssl.create_default_context(cafile=str(tls[0]))
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self._opener = urllib.request.build_opener(*handlers)

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port, fixed on first start and kept across restarts."""
        if self._port is None:
            raise RegistryError("registry has not been started")
        return self._port

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry part of an image reference."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Base URL of the registry API (https when it serves TLS)."""
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host}"

    @property
    def storage_dir(self) -> Path:
        """Directory holding the registry's blobs and manifests (gone after ``close()``)."""
        if self._workdir is None:
            raise RegistryError("registry has no storage: not started, or closed")
        return self._workdir / "storage"

    @property
    def running(self) -> bool:
        """Whether the registry process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the registry and wait until ``/v2/`` answers; no-op when already running."""
        if self.running:
            return
        self._ensure_workdir()
        if self._port is not None:  # a restart must come back where clients expect it
            self._launch(self._port)
            return
        last_error: RegistryError | None = None
        for _ in range(_START_ATTEMPTS):
            port = pick_free_port()
            try:
                self._launch(port)
            except RegistryError as error:
                if _ADDRESS_IN_USE not in str(error):
                    raise
                last_error = error  # another process grabbed the port between pick and bind
                continue
            self._port = port
            return
        raise RegistryError(f"no free port after {_START_ATTEMPTS} attempts") from last_error

    def stop(self) -> None:
        """Stop the process (terminate, then kill if it lingers); storage and port are kept."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def restart(self) -> None:
        """Stop and start again on the same port with the same storage."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the registry and delete its temp directory."""
        self.stop()
        workdir, self._workdir = self._workdir, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    def stderr_text(self) -> str:
        """What the registry wrote to stderr so far (for failure messages)."""
        if self._workdir is None:
            return ""
        log = self._workdir / "registry.log"
        return log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""

    def _ensure_workdir(self) -> Path:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="oci-registry-"))
            (self._workdir / "storage").mkdir()
            if self.username is not None and self.password is not None:
                htpasswd = self._workdir / "htpasswd"
                htpasswd.write_text(make_htpasswd(self.username, self.password), encoding="utf-8")
                htpasswd.chmod(0o600)
        return self._workdir

    def _config_text(self, port: int) -> str:
        workdir = self._ensure_workdir()
        lines = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {json.dumps(str(workdir / 'storage'))}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{port}",
            f"  secret: {secrets.token_hex(16)}",
            "  headers:",
            f"    {_INSTANCE_HEADER}: [{self._instance}]",
        ]
        if self.tls is not None:
            certificate, key = self.tls
            lines += [
                "  tls:",
                f"    certificate: {json.dumps(str(certificate))}",
                f"    key: {json.dumps(str(key))}",
            ]
        if self.username is not None:
            lines += [
                "auth:",
                "  htpasswd:",
                f"    realm: {json.dumps(self.realm)}",
                f"    path: {json.dumps(str(workdir / 'htpasswd'))}",
            ]
        if self.token is not None:
            lines += self.token.registry_config()
        return "\n".join(lines) + "\n"

    def _launch(self, port: int) -> None:
        """Run one registry process on ``port`` and wait for it to serve, or raise with its log."""
        workdir = self._ensure_workdir()
        config = workdir / "config.yml"
        config.write_text(self._config_text(port), encoding="utf-8")
        # REGISTRY_* variables would override the config file; keep the environment out of it.
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        log_path = workdir / "registry.log"
        with log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise RegistryError(
                    f"docker-registry exited with {code} on port {port}:\n{self.stderr_text()}"
                )
            if self._probe(port):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RegistryError(
                    f"docker-registry did not answer GET /v2/ on port {port} within "
                    f"{self.startup_timeout:.0f}s:\n{self.stderr_text()}"
                )
            time.sleep(0.02)

    def _probe(self, port: int) -> bool:
        """True when ``GET /v2/`` answers 200 or 401 from this very registry, i.e. it is up."""
        scheme = "https" if self.tls is not None else "http"
        request = urllib.request.Request(f"{scheme}://127.0.0.1:{port}/v2/", method="GET")
        try:
            with self._opener.open(request, timeout=0.25) as response:
                status, headers = response.status, response.headers
        except urllib.error.HTTPError as error:
            with error:
                status, headers = error.code, error.headers
        except OSError:  # refused, reset, or a squatter that never answers
            return False
        return status in (200, 401) and headers.get(_INSTANCE_HEADER) == self._instance

    # -- raw HTTP --------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        auth: bool = True,
        timeout: float = 10.0,
    ) -> Response:
        """Call the registry; ``path`` is ``/v2/...`` or an absolute URL. 4xx/5xx do not raise.

        Basic auth is added when the registry has credentials, unless ``auth=False``; a token
        registry's Bearer challenge is answered with a token from its issuer, unless ``auth=False``,
        and that token is sent first on the next request: the registry answers an unauthorised
        upload with 401 before reading its body and closes, which breaks the pipe of a client
        still sending a large one (a push always starts with a bodiless POST that gets the token).
        """
        url = path if path.startswith(("http://", "https://")) else self.url + path
        all_headers = dict(headers or {})
        if auth and self.username is not None and self.password is not None:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
            all_headers["Authorization"] = f"Basic {token}"
        if auth and self.token is not None and self._bearer is not None:
            all_headers["Authorization"] = self._bearer
        answer = self._send(method, url, data, all_headers, timeout)
        challenge = answer.headers.get("WWW-Authenticate", "")
        if answer.status == 401 and auth and self.token is not None and challenge:
            self._bearer = self.token.authorization(challenge)
            all_headers["Authorization"] = self._bearer
            answer = self._send(method, url, data, all_headers, timeout)
        return answer

    def _send(
        self, method: str, url: str, data: bytes | None, headers: dict[str, str], timeout: float
    ) -> Response:
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=timeout) as response:
                return Response(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            with error:
                return Response(error.code, error.headers, error.read())

    # -- registry API ----------------------------------------------------------------------------

    def push_blob(self, repo: str, data: bytes) -> str:
        """Upload ``data`` monolithically (POST, then PUT ``?digest=``); return its digest."""
        digest = sha256_digest(data)
        start = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        location = start.headers.get("Location")
        if start.status != 202 or not location:
            raise RegistryError(f"blob upload to {repo} refused: {start.status} {start.body!r}")
        done = self.request(
            "PUT",
            upload_url(self.url, location, digest),
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if done.status != 201:
            raise RegistryError(f"blob upload to {repo} failed: {done.status} {done.body!r}")
        return digest

    def push_manifest(
        self, repo: str, reference: str, manifest_bytes: bytes, media_type: str
    ) -> str:
        """PUT a manifest under a tag or digest; return its digest, checked with the registry's."""
        digest = sha256_digest(manifest_bytes)
        response = self.request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            data=manifest_bytes,
            headers={"Content-Type": media_type},
        )
        if response.status != 201:
            raise RegistryError(
                f"manifest {repo}:{reference} refused: {response.status} {response.body!r}"
            )
        reported = response.headers.get("Docker-Content-Digest")
        if reported != digest:
            raise RegistryError(f"registry reported digest {reported}, bytes hash to {digest}")
        return digest

    def get_manifest(self, repo: str, reference: str) -> bytes:
        """Fetch a manifest's exact bytes by tag or digest."""
        response = self.request(
            "GET", f"/v2/{repo}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT}
        )
        if response.status != 200:
            raise RegistryError(
                f"manifest {repo}:{reference} not fetched: {response.status} {response.body!r}"
            )
        return response.body

    def get_blob(self, repo: str, digest: str) -> bytes:
        """Fetch a blob's bytes (the "download URL" of an artifact layer)."""
        response = self.request("GET", f"/v2/{repo}/blobs/{digest}")
        if response.status != 200:
            raise RegistryError(f"blob {repo}@{digest} not fetched: {response.status}")
        return response.body

    def delete_manifest(self, repo: str, digest: str) -> None:
        """Delete a manifest by digest, simulating an image that vanished from the registry."""
        response = self.request("DELETE", f"/v2/{repo}/manifests/{digest}")
        if response.status != 202:
            raise RegistryError(
                f"manifest {repo}@{digest} not deleted: {response.status} {response.body!r}"
            )
