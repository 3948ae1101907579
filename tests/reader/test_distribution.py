"""`reader.distribution`: the registry's challenges answered as Distribution specifies (Basic;
Bearer with a token from the realm, anonymous or with the stored credentials), the manifest
checked against its digest, and what each refusal says. The registry and its token realm are
played by a loopback server."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_catalog.errors import CatalogError, RegistryUnavailable
from image_catalog.reader.auth import Found, StoredLogin
from image_catalog.reader.distribution import (
    Repository,
    check_download_status,
    parse_challenge,
    token_of,
    untrusted_certificate,
)
from image_catalog.web.connection import Pool
from image_catalog.web.errors import ServerUnreachable
from support.hostile import HostileServer, Request, answer

MANIFEST = b'{"schemaVersion":2,"layers":[]}'
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
LOGIN = StoredLogin("robot", "pa55", Path("/auth.json"))


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as running:
        yield running


def registry(server: HostileServer, field: str = "token", realm_status: int = 200) -> None:
    """A registry that wants `Bearer tok`, and its realm at /token."""

    def manifest(request: Request) -> None:
        if request.headers.get("authorization") == "Bearer tok":
            request.send(answer(200, MANIFEST))
            return
        challenge = (f'WWW-Authenticate: Bearer realm="{server.url}token",service="reg",'
                     'scope="repository:team/disk:pull"')  # fmt: skip
        request.send(answer(401, b"{}", challenge))

    def token(request: Request) -> None:
        body = json.dumps({field: "tok"}).encode()
        request.send(answer(realm_status, body if realm_status == 200 else b"{}"))

    server.play(f"v2/team/disk/manifests/{DIGEST}", manifest)
    server.play("token", token)


def repository(server: HostileServer, login: StoredLogin | None) -> Repository:
    found = Found(login, (Path("/auth.json"),) if login else ())
    return Repository(server.url.rstrip("/"), "team/disk", found, Pool(2.0))


def test_parse_challenge() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://a/t?x=1",service=reg, scope="repo:a:pull,push"'
    )
    assert scheme == "bearer"
    assert params == {"realm": "https://a/t?x=1", "service": "reg", "scope": "repo:a:pull,push"}
    assert parse_challenge('Basic realm="r"') == ("basic", {"realm": "r"})


@pytest.mark.parametrize("field", ["token", "access_token"])
def test_bearer_anonymous(server: HostileServer, field: str) -> None:
    registry(server, field)
    assert repository(server, None).manifest(DIGEST) == MANIFEST
    token_request = next(r for r in server.requests if r.target.startswith("/token"))
    assert token_request.target == "/token?service=reg&scope=repository%3Ateam%2Fdisk%3Apull"
    assert "authorization" not in token_request.headers


def test_bearer_with_the_stored_login(server: HostileServer) -> None:
    registry(server)
    assert repository(server, LOGIN).manifest(DIGEST) == MANIFEST
    token_request = next(r for r in server.requests if r.target.startswith("/token"))
    assert token_request.headers["authorization"] == LOGIN.basic()
    # The registry itself never sees the password, only the token.
    others = [r for r in server.requests if not r.target.startswith("/token")]
    assert {r.headers.get("authorization") for r in others} == {None, "Bearer tok"}


def test_a_realm_that_refuses_names_the_auth_file(server: HostileServer) -> None:
    registry(server, realm_status=401)
    with pytest.raises(RegistryUnavailable) as caught:
        repository(server, LOGIN).manifest(DIGEST)
    assert str(caught.value) == (
        f"127.0.0.1:{server.port} refused the credentials to pull team/disk (its token service "
        f"{server.url}token answered HTTP 401) (credentials from /auth.json)"
    )
    assert "pa55" not in str(caught.value)


def test_basic_without_credentials(server: HostileServer) -> None:
    challenge = 'WWW-Authenticate: Basic realm="x"'
    server.play(f"v2/team/disk/manifests/{DIGEST}", lambda r: r.send(answer(401, b"", challenge)))
    with pytest.raises(
        RegistryUnavailable, match="asks for credentials to pull team/disk; no auth file found"
    ):
        repository(server, None).manifest(DIGEST)


def test_a_manifest_that_is_not_the_pinned_one(server: HostileServer) -> None:
    server.files[f"v2/team/disk/manifests/{DIGEST}"] = MANIFEST + b" "
    with pytest.raises(
        CatalogError,
        match=f"the manifest's bytes hash to sha256:[0-9a-f]{{64}}, not to the pinned {DIGEST}",
    ):
        repository(server, None).manifest(DIGEST)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(404, CatalogError), (503, RegistryUnavailable), (403, RegistryUnavailable)],
)
def test_statuses(server: HostileServer, status: int, kind: type[Exception]) -> None:
    server.play(f"v2/team/disk/manifests/{DIGEST}", lambda r: r.send(answer(status, b"")))
    with pytest.raises(kind):
        repository(server, None).manifest(DIGEST)


def test_token_of_refuses_what_is_not_a_token() -> None:
    for body in (b"nope", b"[]", b'{"token": 5}', b'{"token": "a\\nb"}'):
        with pytest.raises(RegistryUnavailable, match="realm"):
            token_of(body, "realm")


def test_credentials_never_go_to_a_plain_http_realm_of_an_https_registry() -> None:
    found = Found(LOGIN, (Path("/auth.json"),))
    https = Repository("https://127.0.0.1:9", "team/disk", found, Pool(1.0))
    with pytest.raises(RegistryUnavailable, match="which is not https: the credentials are not"):
        https.authenticate('Bearer realm="http://127.0.0.1:9/token",service="reg"')


def test_a_download_url_is_named_as_its_own_server_never_the_registry() -> None:
    repository = Repository("http://reg.example.com", "team/disk", Found(LOGIN, ()), Pool(5))
    assert repository.owns("http://reg.example.com/v2/team/disk/blobs/sha256:ab")
    assert not repository.owns("http://reg.example.com.evil.example/v2/x")
    assert repository.source_of("http://reg.example.com/v2/team/disk/blobs/x") == "the registry"
    shown = repository.source_of("https://u:p@cdn.example.com/disk.img?Signature=s3cret#f")
    assert shown == "the server of https://***@cdn.example.com/disk.img?***"


@pytest.mark.parametrize(
    ("status", "kind", "said"),
    [
        (404, CatalogError, "URL: the file's downloadUrl is not there (HTTP 404)"),
        (401, RegistryUnavailable, "URL refused the download (HTTP 401); it is the file's "
                                   "own downloadUrl, to which the registry's credentials are "
                                   "never sent"),
        (502, RegistryUnavailable, "URL is unavailable (HTTP 502); retry later"),
        (418, CatalogError, "URL: the file's downloadUrl answered an unexpected HTTP 418"),
    ],
)  # fmt: skip
def test_check_download_status(status: int, kind: type[Exception], said: str) -> None:
    check_download_status(200, "https://cdn.example.com/disk.img")
    with pytest.raises(kind) as refused:
        check_download_status(status, "https://cdn.example.com/disk.img?token=s3cret")
    assert str(refused.value) == said.replace("URL", "https://cdn.example.com/disk.img?***")


def caused(cause: Exception) -> ServerUnreachable:
    """A `ServerUnreachable` raised from `cause`, as `web.fetch` raises it."""
    error = ServerUnreachable(str(cause))
    error.__cause__ = cause
    return error


def test_an_untrusted_certificate_is_told_from_an_unreachable_server() -> None:
    import ssl

    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "self-signed certificate"
    assert untrusted_certificate(caused(error)) == (
        "its TLS certificate is not trusted (self-signed certificate); pass --cert-dir DIR with "
        "the CA that signed it in DIR/ca.crt, or --tls-verify=false to skip the check"
    )
    assert untrusted_certificate(caused(ConnectionRefusedError(111, "refused"))) is None
