"""What `CredentialStore` hands skopeo for each kind of auth, and where the secrets go: into an
auth file with no name on disk, alive for one call, never into the arguments."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from image_catalog.errors import ExitCode, RegistryUnavailable
from image_catalog.manifest.model import API_VERSION, Registry
from image_catalog.registry.credentials import Credentials, CredentialStore
from image_catalog.registry.errors import DeclaredFileUnusable, RegistryFailure, Unauthorized

HOST = "registry.example.com:5000"
SECRET = "sha256~c2VjcmV0LXRva2VuLXRoYXQtbXVzdC1ub3QtbGVhaw"


def _registry(**spec: Any) -> Registry:
    return Registry.model_validate(
        {
            "apiVersion": API_VERSION,
            "kind": "Registry",
            "metadata": {"name": "builds"},
            "spec": {"kind": "generic", "host": HOST, **spec},
        }
    )


@pytest.fixture
def store() -> Iterator[CredentialStore]:
    made = CredentialStore()
    yield made
    made.close()


def _auth_document(credentials: Credentials) -> dict[str, Any]:
    """The auth file skopeo would open, read through the descriptor it inherits."""
    assert credentials.args[0] == "--authfile"
    [fd] = credentials.pass_fds
    assert credentials.args[1] == f"/proc/self/fd/{fd}"
    with open(credentials.args[1], encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    return document


def _user_and_password(document: dict[str, Any]) -> str:
    return base64.b64decode(document["auths"][HOST]["auth"]).decode()


def _token_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "token"
    path.write_text(text)
    return path


def test_no_auth_asks_for_no_credentials(store: CredentialStore) -> None:
    with store.for_call(_registry()) as credentials:
        assert credentials == Credentials(("--no-creds",))
    assert store.private is None


def test_an_auth_file_is_passed_by_its_path(store: CredentialStore, tmp_path: Path) -> None:
    auth = tmp_path / "auth.json"
    auth.write_text('{"auths": {}}')
    with store.for_call(_registry(auth={"method": "authFile", "path": str(auth)})) as credentials:
        assert credentials == Credentials(("--authfile", str(auth)))


def _unusable_file(tmp_path: Path, kind: str) -> Path:
    """A path as a bad declaration names it: nothing there, a folder, or a FIFO."""
    path = tmp_path / f"declared-{kind}"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    return path


@contextlib.contextmanager
def _used(store: CredentialStore, declared: Registry) -> Iterator[None]:
    """What a skopeo call takes from the store: the TLS arguments, then the credentials."""
    store.tls_args(declared)
    with store.for_call(declared):
        yield


_REASONS = {
    "missing": "it does not exist",
    "folder": "is a folder, not a regular file",
    "fifo": "is a FIFO (named pipe), not a regular file",
}


@pytest.mark.parametrize("kind", list(_REASONS))
@pytest.mark.parametrize(
    ("field", "what"),
    [
        ("spec.caFile", "the CA file"),
        ("spec.auth.path", "the auth file"),
        ("spec.auth.tokenPath", "the service-account token file"),
    ],
)
def test_a_declared_file_that_cannot_be_used_is_a_catalog_error_not_a_retry(
    store: CredentialStore, tmp_path: Path, kind: str, field: str, what: str
) -> None:
    path = _unusable_file(tmp_path, kind)
    if field == "spec.caFile":
        declared = _registry(caFile=str(path))
    elif field == "spec.auth.path":
        declared = _registry(auth={"method": "authFile", "path": str(path)})
    else:
        declared = _registry(auth={"method": "serviceAccountToken", "tokenPath": str(path)})
    with pytest.raises(DeclaredFileUnusable) as caught, _used(store, declared):
        pass
    assert caught.value.exit_code == ExitCode.INVALID
    assert not isinstance(caught.value, RegistryUnavailable)
    message = str(caught.value)
    assert message.startswith(
        f"registries/builds.yaml: {field}: {what} {path} of registry builds ({HOST}) cannot be "
        f"used ({_REASONS[kind]}): "
    )
    assert (caught.value.registry, caught.value.host) == ("builds", HOST)


def test_a_token_goes_through_an_anonymous_file_for_one_call(
    store: CredentialStore, tmp_path: Path
) -> None:
    token = _token_file(tmp_path, SECRET + "\n")
    declared = _registry(auth={"method": "serviceAccountToken", "tokenPath": str(token)})
    with store.for_call(declared) as credentials:
        document = _auth_document(credentials)
        [fd] = credentials.pass_fds
        link = os.readlink(f"/proc/self/fd/{fd}")
        assert link == "/memfd:image-catalog-auth (deleted)"  # no name on disk
    assert _user_and_password(document) == f"serviceaccount:{SECRET}"
    assert SECRET not in " ".join(credentials.args)
    # What to scrub from skopeo's output: the token and the encoded pair.
    assert credentials.secrets == (SECRET, document["auths"][HOST]["auth"])
    # Closed once the call is over (the number may since hold something else, never the secret).
    held = f"/proc/self/fd/{fd}"
    assert not os.path.exists(held) or os.readlink(held) != link
    assert store.private is None  # nothing was written to a folder


def test_a_rotated_token_is_read_at_the_next_call(store: CredentialStore, tmp_path: Path) -> None:
    token = _token_file(tmp_path, "first")
    declared = _registry(
        auth={"method": "serviceAccountToken", "tokenPath": str(token), "username": "robot"}
    )
    with store.for_call(declared) as credentials:
        assert _user_and_password(_auth_document(credentials)) == "robot:first"
    token.write_text("second")
    with store.for_call(declared) as credentials:
        assert _user_and_password(_auth_document(credentials)) == "robot:second"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\n", "is empty"),
        (b"\xff\xfe", "which is not UTF-8 text"),
    ],
)
def test_a_token_that_cannot_be_used_is_refused(
    store: CredentialStore, tmp_path: Path, text: str | bytes | None, message: str
) -> None:
    token = tmp_path / "token"
    if isinstance(text, bytes):
        token.write_bytes(text)
    elif text is not None:
        token.write_text(text)
    declared = _registry(auth={"method": "serviceAccountToken", "tokenPath": str(token)})
    with pytest.raises(Unauthorized, match=re.escape(message)) as caught, store.for_call(declared):
        pass
    assert "fix spec.auth in registries/builds.yaml" in str(caught.value)
    assert (caught.value.registry, caught.value.host) == ("builds", HOST)


def test_environment_credentials_are_read_at_each_call(
    store: CredentialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULL_USER", "builder")
    monkeypatch.setenv("PULL_PASSWORD", SECRET)
    declared = _registry(
        auth={
            "method": "environment",
            "usernameVariable": "PULL_USER",
            "passwordVariable": "PULL_PASSWORD",
        }
    )
    with store.for_call(declared) as credentials:
        assert _user_and_password(_auth_document(credentials)) == f"builder:{SECRET}"
        assert SECRET in credentials.secrets
        assert SECRET not in " ".join(credentials.args)
    monkeypatch.delenv("PULL_USER")
    monkeypatch.delenv("PULL_PASSWORD")
    with pytest.raises(Unauthorized) as caught, store.for_call(declared):
        pass
    assert str(caught.value) == (
        f"registry builds ({HOST}) takes its credentials from the environment, but PULL_USER "
        "and PULL_PASSWORD are not set: export PULL_USER, PULL_PASSWORD, or fix spec.auth in "
        "registries/builds.yaml"
    )


def test_without_memfd_the_auth_file_is_unlinked_before_it_is_handed_out(
    store: CredentialStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "memfd_create")  # a system without memfd
    token = _token_file(tmp_path, SECRET)
    declared = _registry(auth={"method": "serviceAccountToken", "tokenPath": str(token)})
    with store.for_call(declared) as credentials:
        assert _user_and_password(_auth_document(credentials)) == f"serviceaccount:{SECRET}"
        private = store.private
        assert private is not None
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        assert list(private.iterdir()) == []  # the file has no name left
    store.close()
    assert not private.exists()


def test_tls_arguments_and_a_ca_of_its_own(store: CredentialStore, tmp_path: Path) -> None:
    assert store.tls_args(_registry()) == ["--tls-verify=true"]
    assert store.tls_args(_registry(tlsVerify=False)) == ["--tls-verify=false"]
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    declared = _registry(caFile=str(ca))
    args = store.tls_args(declared)
    assert args[:2] == ["--tls-verify=true", "--cert-dir"]
    folder = Path(args[2])
    assert [p.name for p in folder.iterdir()] == ["ca.crt"]  # only this registry's CA
    assert (folder / "ca.crt").read_text() == ca.read_text()
    assert store.tls_args(declared) == args  # one folder per registry host
    assert store.private is not None
    assert folder.parent == store.private
    store.close()
    assert not folder.exists()
    with pytest.raises(RegistryFailure, match="the registry client is closed"):
        store.tls_args(declared)
