"""Tests of the test harness: a Distribution registry with ``auth: token`` and its token issuer.

They prove the issuer speaks the protocol as real clients expect: the registry verifies its
tokens, and skopeo performs the whole token dance against it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

import pytest
from support.oci import PushedArtifact
from support.pushed import board_artifact
from support.registry import MANIFEST_ACCEPT, REGISTRY_TOOLS, LocalRegistry, require_tools
from support.tokens import TokenIssuer, parse_challenge

pytestmark = pytest.mark.registry

USER = "puller"
PASSWORD = "sha256~dG9rZW4tcmVnaXN0cnktcGFzc3dvcmQtbmV2ZXItbGVhaw"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Setup:
    issuer: TokenIssuer
    registry: LocalRegistry
    artifact: PushedArtifact


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    require_tools(*REGISTRY_TOOLS, "openssl")
    with TokenIssuer(USER, PASSWORD) as issuer, LocalRegistry(token=issuer) as registry:
        yield Setup(issuer, registry, board_artifact(registry, "bench/token-disk"))


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def token_for(issuer: TokenIssuer, scope: str, credentials: tuple[str, str] | None = None) -> str:
    query = urllib.parse.urlencode({"service": issuer.service, "scope": scope})
    headers = {}
    if credentials is not None:
        basic = base64.b64encode(":".join(credentials).encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    status, _, body = get(f"{issuer.realm}?{query}", headers)
    assert status == 200, body
    document = json.loads(body)
    assert document["token"] == document["access_token"]
    assert document["expires_in"] == 300
    token: str = document["token"]
    return token


def claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return decoded


def test_registry_challenges_with_the_issuer_realm(setup: Setup) -> None:
    artifact = setup.artifact
    status, headers, _ = get(f"{setup.registry.url}/v2/{artifact.repo}/manifests/{artifact.digest}")
    assert status == 401
    challenge = parse_challenge(headers["WWW-Authenticate"])
    assert challenge == {
        "realm": setup.issuer.realm,
        "service": setup.issuer.service,
        "scope": f"repository:{artifact.repo}:pull",
    }


@pytest.mark.parametrize("credentials", [None, (USER, PASSWORD)], ids=["anonymous", "basic"])
def test_a_token_fetches_manifest_and_blob_by_digest(
    setup: Setup, credentials: tuple[str, str] | None
) -> None:
    artifact = setup.artifact
    token = token_for(setup.issuer, f"repository:{artifact.repo}:pull", credentials)
    assert claims(token)["sub"] == ("" if credentials is None else USER)
    bearer = {"Authorization": f"Bearer {token}"}
    base = f"{setup.registry.url}/v2/{artifact.repo}"
    status, _, manifest = get(
        f"{base}/manifests/{artifact.digest}", {**bearer, "Accept": MANIFEST_ACCEPT}
    )
    assert status == 200
    assert manifest == artifact.manifest
    layer = artifact.layers[0]
    status, _, blob = get(f"{base}/blobs/{layer.digest}", bearer)
    assert status == 200
    assert "sha256:" + hashlib.sha256(blob).hexdigest() == layer.digest


def test_a_token_for_another_repository_is_refused(setup: Setup) -> None:
    token = token_for(setup.issuer, "repository:bench/other:pull")
    artifact = setup.artifact
    status, _, _ = get(
        f"{setup.registry.url}/v2/{artifact.repo}/manifests/{artifact.digest}",
        {"Authorization": f"Bearer {token}", "Accept": MANIFEST_ACCEPT},
    )
    assert status == 401


def test_anonymous_clients_get_pull_only(setup: Setup) -> None:
    scope = f"repository:{setup.artifact.repo}:pull,push"
    assert claims(token_for(setup.issuer, scope))["access"] == [
        {"type": "repository", "name": setup.artifact.repo, "actions": ["pull"]}
    ]
    assert claims(token_for(setup.issuer, scope, (USER, PASSWORD)))["access"] == [
        {"type": "repository", "name": setup.artifact.repo, "actions": ["pull", "push"]}
    ]


def test_wrong_credentials_are_refused_by_the_issuer(setup: Setup) -> None:
    query = urllib.parse.urlencode(
        {"service": setup.issuer.service, "scope": f"repository:{setup.artifact.repo}:pull"}
    )
    basic = base64.b64encode(f"{USER}:wrong".encode()).decode()
    status, headers, body = get(
        f"{setup.issuer.realm}?{query}", {"Authorization": f"Basic {basic}"}
    )
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Basic ")
    assert b"token" not in body
    assert setup.issuer.requests[-1].status == 401


def test_an_issuer_without_anonymous_pull_refuses_anonymous_clients() -> None:
    require_tools("openssl")
    with TokenIssuer(USER, PASSWORD, anonymous_pull=False) as issuer:
        query = urllib.parse.urlencode({"service": issuer.service, "scope": "repository:a:pull"})
        status, _, _ = get(f"{issuer.realm}?{query}")
    assert status == 401


def skopeo_inspect(setup: Setup, *credentials: str) -> subprocess.CompletedProcess[str]:
    reference = f"docker://{setup.artifact.ref}"
    return subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", *credentials, reference],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_skopeo_does_the_token_dance(setup: Setup) -> None:
    before = len(setup.issuer.requests)
    done = skopeo_inspect(setup, "--creds", f"{USER}:{PASSWORD}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.encode() == setup.artifact.manifest
    asked = setup.issuer.requests[before:]
    assert asked
    assert {(entry.subject, entry.status) for entry in asked} == {(USER, 200)}

    refused = skopeo_inspect(setup, "--creds", f"{USER}:wrong")
    assert refused.returncode != 0
    assert setup.issuer.requests[-1].status == 401
