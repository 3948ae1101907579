"""`image-catalog pull` against registries that ask more of a client than plain HTTP: a bearer-token
registry (Distribution with `auth: token` and a real token issuer, `support.tokens`), an HTTPS
registry with its own certificate, and files served from their own `downloadUrl` beside the
registry.

The issuer records every token request, so the tests assert the token dance the pull performed:
the service and `repository:REPO:pull` scope the registry's challenge named (the issuer answers
404, unrecorded, to any other service), and credentials only when the consumer's auth file gives
them. The refusals of the same set-ups are in `test_hostile_pull_auth.py`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.hostile import HostileServer
from support.pulling import disk_site, isolate_credentials, pull, push_board_disk, small_files
from support.registry import REGISTRY_TOOLS, LocalRegistry, require_tools, write_authfile
from support.tls import loopback_certificate
from support.tokens import TokenIssuer

pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("isolated_reader", "own_home")]

USER = "puller"
PASSWORD = "sha256~cHVsbC1hdXRoLXBhc3N3b3JkLXRoYXQtbXVzdC1uZXZlci1sZWFr"


@pytest.fixture
def own_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate_credentials(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def token() -> Iterator[tuple[TokenIssuer, LocalRegistry]]:
    """A registry behind a token issuer that lets anonymous clients pull."""
    require_tools(*REGISTRY_TOOLS, "openssl")
    with TokenIssuer(USER, PASSWORD) as issuer, LocalRegistry(token=issuer) as registry:
        yield issuer, registry


def asked(issuer: TokenIssuer, since: int) -> set[tuple[str, tuple[str, ...], int]]:
    """Who asked the issuer for what since request `since`, and its answer."""
    return {(r.subject, r.scopes, r.status) for r in issuer.requests[since:]}


def test_an_anonymous_pull_from_a_token_registry(
    token: tuple[TokenIssuer, LocalRegistry], tmp_path: Path
) -> None:
    issuer, registry = token
    files = small_files("token-anon")
    artifact = push_board_disk(registry, "pull/token-anon", files)
    site = disk_site(tmp_path, registry.host, artifact)
    before = len(issuer.requests)
    done = pull(site, tmp_path / "out")
    assert done.code == 0, done.output
    assert (tmp_path / "out" / "root.img").read_bytes() == files[1].data
    assert asked(issuer, before) == {("", ("repository:pull/token-anon:pull",), 200)}


@pytest.mark.parametrize("how", ["--authfile", "REGISTRY_AUTH_FILE"])
def test_a_token_pull_with_the_consumers_credentials(
    token: tuple[TokenIssuer, LocalRegistry], tmp_path: Path, how: str
) -> None:
    issuer, registry = token
    artifact = push_board_disk(registry, "pull/token-creds", small_files("token-creds"))
    site = disk_site(tmp_path, registry.host, artifact)
    authfile = write_authfile(tmp_path / "auth.json", registry.host, USER, PASSWORD)
    before = len(issuer.requests)
    if how == "--authfile":
        done = pull(site, tmp_path / "out", "--authfile", str(authfile))
    else:
        done = pull(site, tmp_path / "out", env={"REGISTRY_AUTH_FILE": str(authfile)})
    assert done.code == 0, done.output
    assert PASSWORD not in done.output
    assert (tmp_path / "out" / "boot.img.gz").is_file()
    assert asked(issuer, before) == {(USER, ("repository:pull/token-creds:pull",), 200)}


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """An HTTPS registry whose certificate (self-signed, for 127.0.0.1) no system trusts."""
    require_tools(*REGISTRY_TOOLS)
    tls = loopback_certificate(tmp_path_factory.mktemp("registry-tls"))
    with LocalRegistry(tls=tls) as registry:
        yield registry


def test_an_https_registry_verified_with_cert_dir(
    tls_registry: LocalRegistry, tmp_path: Path
) -> None:
    assert tls_registry.tls is not None
    files = small_files("tls")
    artifact = push_board_disk(tls_registry, "pull/tls", files)
    site = disk_site(tmp_path, tls_registry.host, artifact, tls_verify=True)
    certs = tmp_path / "certs.d"
    certs.mkdir()
    (certs / "ca.crt").write_bytes(tls_registry.tls[0].read_bytes())
    done = pull(site, tmp_path / "out", "--cert-dir", str(certs))
    assert done.code == 0, done.output
    assert (tmp_path / "out" / "root.img").read_bytes() == files[1].data

    unverified = pull(site, tmp_path / "unverified", "--tls-verify=false")
    assert unverified.code == 0, unverified.output
    assert (tmp_path / "unverified" / "root.img").read_bytes() == files[1].data


def test_a_file_with_its_own_download_url(
    auth_registry: LocalRegistry, tmp_path: Path, own_home: Path
) -> None:
    """The file is fetched from its `downloadUrl`, verified, and the registry's credentials (it
    needs them for the manifest and the other file) are never sent there."""
    assert auth_registry.username is not None
    assert auth_registry.password is not None
    files = small_files("download-url")
    artifact = push_board_disk(auth_registry, "pull/download-url", files)
    authfile = write_authfile(
        tmp_path / "auth.json", auth_registry.host, auth_registry.username, auth_registry.password
    )
    with HostileServer(files={"files/boot.img.gz": files[0].data}) as server:
        url = f"{server.url}files/boot.img.gz"
        site = disk_site(tmp_path, auth_registry.host, artifact, download_urls={"boot.img.gz": url})
        done = pull(site, tmp_path / "out", "--authfile", str(authfile))
        assert done.code == 0, done.output
        assert [r.target for r in server.requests] == ["/files/boot.img.gz"]
        assert "authorization" not in server.requests[0].headers
        assert auth_registry.password not in str(server.requests[0].headers)
    assert (tmp_path / "out" / "boot.img.gz").read_bytes() == files[0].data
    assert (tmp_path / "out" / "root.img").read_bytes() == files[1].data
    assert os.stat(tmp_path / "out" / "SHA256SUMS").st_size > 0
