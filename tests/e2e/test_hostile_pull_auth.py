"""Refusals of `image-catalog pull` where a registry asks more than plain HTTP: credentials a token
issuer refuses, a token registry that wants credentials none of the auth files hold, an HTTPS
registry whose certificate is not trusted, a CA folder holding no certificate, and a file whose
own `downloadUrl` serves the wrong bytes. Each ends in its exact exit code and message, run
confined (`run_confined`, `assert_refused`), never showing the password it was given."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.confined import assert_refused
from support.hostile import HostileServer, answer, raw
from support.pulling import disk_site, isolate_credentials, pull, push_board_disk, small_files
from support.registry import REGISTRY_TOOLS, LocalRegistry, require_tools, write_authfile
from support.tls import loopback_certificate
from support.tokens import TokenIssuer

pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("isolated_reader", "own_home")]

USER = "puller"
PASSWORD = "sha256~cHVsbC1hdXRoLXBhc3N3b3JkLXRoYXQtbXVzdC1uZXZlci1sZWFr"
SIGNATURE = "c2lnbmF0dXJlLW9mLWEtcHJlc2lnbmVkLXVybA"
WRONG = "sha256~d3JvbmctcGFzc3dvcmQtdGhhdC1tdXN0LW5ldmVyLWxlYWs"


@pytest.fixture
def own_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate_credentials(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def private() -> Iterator[tuple[TokenIssuer, LocalRegistry]]:
    """A registry behind a token issuer that gives nothing to anonymous clients."""
    require_tools(*REGISTRY_TOOLS, "openssl")
    with (
        TokenIssuer(USER, PASSWORD, anonymous_pull=False) as issuer,
        LocalRegistry(token=issuer) as registry,
    ):
        yield issuer, registry


def test_a_token_issuer_refuses_the_credentials(
    private: tuple[TokenIssuer, LocalRegistry], tmp_path: Path
) -> None:
    issuer, registry = private
    artifact = push_board_disk(registry, "pull/token-wrong", small_files("token-wrong"))
    site = disk_site(tmp_path, registry.host, artifact)
    authfile = write_authfile(tmp_path / "auth.json", registry.host, USER, WRONG)
    before = len(issuer.requests)
    done = pull(site, tmp_path / "out", "--authfile", str(authfile))
    assert_refused(done, 4, f"{registry.host} refused the credentials to pull pull/token-wrong "
                   f"(its token service {issuer.realm} answered HTTP 401) "
                   f"(credentials from {authfile})")  # fmt: skip
    assert WRONG not in done.output
    assert PASSWORD not in done.output
    assert [(r.subject, r.status) for r in issuer.requests[before:]] == [("", 401)]
    assert not (tmp_path / "out").exists()


def test_a_token_registry_without_anonymous_pull_and_no_credentials(
    private: tuple[TokenIssuer, LocalRegistry], tmp_path: Path, own_home: Path
) -> None:
    issuer, registry = private
    artifact = push_board_disk(registry, "pull/token-none", small_files("token-none"))
    site = disk_site(tmp_path, registry.host, artifact)
    podman = own_home / ".config" / "containers"
    podman.mkdir(parents=True)
    write_authfile(podman / "auth.json", "elsewhere.example.com", USER, PASSWORD)
    done = pull(site, tmp_path / "out")
    assert_refused(done, 4, f"{registry.host} asks for credentials to pull pull/token-none "
                   f"(its token service {issuer.realm} answered HTTP 401); no credentials for "
                   f"it in {podman / 'auth.json'}")  # fmt: skip
    assert PASSWORD not in done.output


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    require_tools(*REGISTRY_TOOLS)
    tls = loopback_certificate(tmp_path_factory.mktemp("registry-tls"))
    with LocalRegistry(tls=tls) as registry:
        yield registry


def test_an_untrusted_registry_certificate(tls_registry: LocalRegistry, tmp_path: Path) -> None:
    artifact = push_board_disk(tls_registry, "pull/untrusted", small_files("untrusted"))
    site = disk_site(tmp_path, tls_registry.host, artifact, tls_verify=True)
    done = pull(site, tmp_path / "out")
    assert_refused(done, 4, f"the registry {tls_registry.host}: its TLS certificate is not "
                   "trusted (self-signed certificate); pass --cert-dir DIR with the CA that "
                   "signed it in DIR/ca.crt, or --tls-verify=false to skip the check")  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_a_cert_dir_whose_certificate_is_not_one(
    tls_registry: LocalRegistry, tmp_path: Path
) -> None:
    artifact = push_board_disk(tls_registry, "pull/not-a-ca", small_files("not-a-ca"))
    site = disk_site(tmp_path, tls_registry.host, artifact, tls_verify=True)
    certs = tmp_path / "certs.d"
    certs.mkdir()
    (certs / "ca.crt").write_text("not a certificate\n")
    done = pull(site, tmp_path / "out", "--cert-dir", str(certs))
    assert_refused(done, 1, f"{certs / 'ca.crt'}: not a CA certificate")
    assert not (tmp_path / "out").exists()


def test_a_download_url_that_serves_the_wrong_bytes(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    files = small_files("download-url-wrong")
    artifact = push_board_disk(registry, "pull/download-url-wrong", files)
    altered = bytearray(files[0].data)
    altered[10] ^= 0xFF
    received = hashlib.sha256(altered).hexdigest()
    expected = artifact.layers[0].digest
    with HostileServer(files={"boot.img.gz": bytes(altered)}) as server:
        urls = {"boot.img.gz": f"{server.url}boot.img.gz"}
        site = disk_site(tmp_path, registry.host, artifact, download_urls=urls)
        out = tmp_path / "out"
        done = pull(site, out)
    source = f"the bytes from the server of {urls['boot.img.gz']}"
    assert_refused(done, 1, f"{out / 'boot.img.gz'}: {source} "
                   f"do not match the index: expected {expected} ({len(altered)} bytes), "
                   f"received sha256:{received}; nothing is kept under its title")  # fmt: skip
    assert not (out / "boot.img.gz").exists()
    assert not (out / "boot.img.gz.part").exists()
    assert (out / "root.img").is_file()


@pytest.mark.parametrize(
    ("status", "code", "said"),
    [
        (404, 1, "URL: the file's downloadUrl is not there (HTTP 404)"),
        (403, 4, "URL refused the download (HTTP 403); it is the file's own downloadUrl, to "
                 "which the registry's credentials are never sent"),
        (503, 4, "URL is unavailable (HTTP 503); retry later"),
    ],
)  # fmt: skip
def test_a_download_url_that_fails_is_said_of_its_server(
    registry: LocalRegistry, tmp_path: Path, status: int, code: int, said: str
) -> None:
    """Not of the registry, and without the URL's query: a pre-signed URL's signature."""
    artifact = push_board_disk(registry, "pull/download-url-fails", small_files("fails"))
    with HostileServer() as server:
        server.play("boot.img.gz", raw(answer(status, b"no\n")))
        url = f"{server.url}boot.img.gz"
        urls = {"boot.img.gz": f"{url}?X-Amz-Signature={SIGNATURE}"}
        site = disk_site(tmp_path, registry.host, artifact, download_urls=urls)
        done = pull(site, tmp_path / "out")
    assert_refused(done, code, said.replace("URL", f"{url}?***"))
    assert SIGNATURE not in done.output
    assert registry.host not in done.stderr
    assert not (tmp_path / "out" / "boot.img.gz").exists()
