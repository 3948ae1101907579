"""A bearer-token issuer on loopback, for a Distribution registry started with ``auth: token``.

Registries such as OpenShift's internal one or Quay answer ``401`` with
``WWW-Authenticate: Bearer realm=…,service=…,scope=…``; the client asks the realm for a token
(anonymously or with Basic credentials) and repeats the request with it. `TokenIssuer` is that
realm: ``GET /token?service=S&scope=repository:REPO:pull[,push]`` answers
``{"token", "access_token", "expires_in"}`` with a JWT the registry verifies.

Invariants:
- The JWT is RS256, signed by ``openssl dgst`` with a key made by ``openssl`` for this issuer
  alone (no Python crypto dependency); its header carries the self-signed certificate as ``x5c``,
  and that certificate is the registry's ``rootcertbundle``, so Distribution 2.8 trusts exactly
  this issuer.
- Anonymous clients get ``pull`` at most, and only when ``anonymous_pull`` is true; a client with
  the issuer's credentials gets ``pull``, ``push`` and ``delete``; wrong credentials get ``401``.
  A token grants what was asked for within that, never more.
- Every request a client made is recorded in ``requests`` (who, what was asked, what was granted,
  the status), so a test can assert the token dance a client performed. Tokens that the test
  harness itself needs to seed a registry (`authorization`) are minted directly and not recorded.
- The server runs in a daemon thread on 127.0.0.1 with a port from the kernel and its key lives
  in a temp directory; ``close()`` (or leaving the ``with`` block) stops both.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.service import Service

ALL_ACTIONS = ("pull", "push", "delete")
ANONYMOUS_ACTIONS = ("pull",)
DEFAULT_SERVICE = "image-catalog-test-registry"
DEFAULT_ISSUER = "image-catalog-test-issuer"
_CHALLENGE_PARAMETER = re.compile(r'(\w+)="([^"]*)"')


class TokenIssuerError(RuntimeError):
    """The issuer could not make its key or sign a token."""


@dataclass(frozen=True)
class TokenRequest:
    """One request a client made to the issuer, as the issuer judged it."""

    subject: str  # "" for an anonymous client
    scopes: tuple[str, ...]
    granted: tuple[dict[str, Any], ...]
    status: int


def b64url(data: bytes) -> str:
    """Base64url without padding, as JOSE encodes every part of a JWT."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def parse_challenge(header: str) -> dict[str, str]:
    """The parameters of a ``WWW-Authenticate: Bearer k="v",...`` header (empty when not Bearer)."""
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "bearer":
        return {}
    return dict(_CHALLENGE_PARAMETER.findall(rest))


def parse_scope(scope: str) -> dict[str, Any] | None:
    """``repository:NAME:a,b`` as a JWT access entry; None for anything else."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if kind != "repository" or not name:
        return None
    return {"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}


def _openssl(*args: str, data: bytes | None = None) -> bytes:
    result = subprocess.run(
        ["openssl", *args], input=data, capture_output=True, check=False, timeout=60
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise TokenIssuerError(f"openssl {args[0]} failed ({result.returncode}): {message}")
    return result.stdout


class TokenIssuer(Service):
    """A token realm for one registry service; see the module docstring for what it grants."""

    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        anonymous_pull: bool = True,
        service: str = DEFAULT_SERVICE,
        issuer: str = DEFAULT_ISSUER,
        lifetime: int = 300,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.username = username
        self.password = password
        self.anonymous_pull = anonymous_pull
        self.service = service
        self.issuer = issuer
        self.lifetime = lifetime
        self.requests: list[TokenRequest] = []
        self._lock = threading.Lock()
        self._workdir: Path | None = None
        self._certificate_der = b""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Make the key and certificate, then serve; no-op when already serving."""
        if self._server is not None:
            return
        self._workdir = Path(tempfile.mkdtemp(prefix="token-issuer-"))
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(self.key_path),
            "-out",
            str(self.certificate_path),
            "-days",
            "2",
            "-subj",
            f"/CN={self.issuer}",
        )
        self._certificate_der = _openssl(
            "x509", "-in", str(self.certificate_path), "-outform", "DER"
        )
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and delete the key."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        workdir, self._workdir = self._workdir, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    # -- where it is -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise TokenIssuerError("token issuer has not been started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def realm(self) -> str:
        """The token endpoint a registry names in its challenge."""
        return f"{self.url}/token"

    @property
    def key_path(self) -> Path:
        if self._workdir is None:
            raise TokenIssuerError("token issuer has not been started")
        return self._workdir / "key.pem"

    @property
    def certificate_path(self) -> Path:
        """The self-signed certificate: the registry's ``rootcertbundle``."""
        if self._workdir is None:
            raise TokenIssuerError("token issuer has not been started")
        return self._workdir / "cert.pem"

    def registry_config(self) -> list[str]:
        """The ``auth: token`` section of a Distribution config that trusts this issuer."""
        return [
            "auth:",
            "  token:",
            f"    realm: {json.dumps(self.realm)}",
            f"    service: {json.dumps(self.service)}",
            f"    issuer: {json.dumps(self.issuer)}",
            f"    rootcertbundle: {json.dumps(str(self.certificate_path))}",
        ]

    # -- tokens ----------------------------------------------------------------------------------

    def mint(self, subject: str, access: list[dict[str, Any]]) -> str:
        """A signed JWT for ``subject`` granting ``access`` (no check: the caller decided)."""
        now = int(time.time())
        certificate = base64.b64encode(self._certificate_der).decode("ascii")
        header = {"typ": "JWT", "alg": "RS256", "x5c": [certificate]}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + self.lifetime,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        ).encode("ascii")
        signature = _openssl("dgst", "-sha256", "-sign", str(self.key_path), data=signing_input)
        return f"{signing_input.decode('ascii')}.{b64url(signature)}"

    def authorization(self, challenge: str) -> str:
        """``Bearer TOKEN`` answering a registry's challenge with every action (seeding a
        registry with test content: not recorded in ``requests``)."""
        scope = parse_challenge(challenge).get("scope", "")
        access = [entry for part in scope.split() if (entry := parse_scope(part)) is not None]
        return "Bearer " + self.mint("image-catalog-tests", access)

    def grant(self, subject: str | None, scopes: list[str]) -> list[dict[str, Any]]:
        """What ``subject`` (None: anonymous) gets of ``scopes``: the asked actions it may have."""
        allowed = ANONYMOUS_ACTIONS if subject is None else ALL_ACTIONS
        granted = []
        for scope in (part for value in scopes for part in value.split()):
            entry = parse_scope(scope)
            if entry is not None:
                entry["actions"] = [a for a in entry["actions"] if a in allowed]
                granted.append(entry)
        return granted

    def authenticate(self, header: str | None) -> tuple[bool, str | None]:
        """(accepted, subject) for an ``Authorization`` header; subject None when anonymous."""
        if not header:
            return self.anonymous_pull, None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or self.username is None:
            return False, None
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False, None
        same = secrets.compare_digest(user, self.username) and secrets.compare_digest(
            password, self.password or ""
        )
        return same, user if same else None

    def record(self, entry: TokenRequest) -> None:
        with self._lock:
            self.requests.append(entry)


def _handler(issuer: TokenIssuer) -> type[BaseHTTPRequestHandler]:
    """The request handler of ``issuer``'s server: ``GET /token`` only."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parsed = urlsplit(self.path)
            query = parse_qs(parsed.query)
            scopes = query.get("scope", [])
            if parsed.path != "/token" or query.get("service") != [issuer.service]:
                self._answer(404, {"details": "unknown service or path"})
                return
            accepted, subject = issuer.authenticate(self.headers.get("Authorization"))
            if not accepted:
                issuer.record(TokenRequest(subject or "", tuple(scopes), (), 401))
                self._answer(401, {"details": "authentication required or refused"})
                return
            access = issuer.grant(subject, scopes)
            issuer.record(TokenRequest(subject or "", tuple(scopes), tuple(access), 200))
            token = issuer.mint(subject or "", access)
            self._answer(
                200, {"token": token, "access_token": token, "expires_in": issuer.lifetime}
            )

        def _answer(self, status: int, document: dict[str, Any]) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", f'Basic realm="{issuer.service}"')
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
