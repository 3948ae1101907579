"""Credentials go only to the entry's own registry: two real registries with different
credentials, each behind a loopback proxy that records the Authorization headers it relays, and
a catalog with entries on both. Each registry sees its own credentials, and never the other's."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from image_catalog.cli import main
from support.catalogs import empty_catalog, registry_manifest
from support.counting import CountingProxy
from support.oci import PushedImage, push_image
from support.pushed import container, write_entry
from support.registry import REGISTRY_TOOLS, LocalRegistry, require_tools, write_authfile

pytestmark = pytest.mark.registry

ALPHA = ("alpha-reader", "alpha-secret-0a1b2c3d")
BETA = ("beta-reader", "beta-secret-4e5f6a7b")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


Behind = tuple[CountingProxy, PushedImage]  # a recording proxy, and an image behind it


@pytest.fixture
def two_registries() -> Iterator[tuple[Behind, Behind]]:
    require_tools(*REGISTRY_TOOLS)
    with (
        LocalRegistry(*ALPHA) as alpha,
        LocalRegistry(*BETA) as beta,
        CountingProxy(alpha.port, record=True) as alpha_proxy,
        CountingProxy(beta.port, record=True) as beta_proxy,
    ):
        # Pushed directly; the catalog names each registry by its proxy, which records.
        alpha_image = replace(push_image(alpha, "routing/alpha", "v1"), host=alpha_proxy.host)
        beta_image = replace(push_image(beta, "routing/beta", "v1"), host=beta_proxy.host)
        yield (alpha_proxy, alpha_image), (beta_proxy, beta_image)


def test_each_registry_receives_only_its_own_credentials(
    two_registries: tuple[Behind, Behind],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (alpha, alpha_image), (beta, beta_image) = two_registries
    monkeypatch.setenv("ALPHA_USER", ALPHA[0])
    monkeypatch.setenv("ALPHA_PASSWORD", ALPHA[1])
    beta_auth = write_authfile(tmp_path / "beta-auth.json", beta.host, *BETA)
    alpha_file = registry_manifest(
        "alpha",
        alpha.host,
        {
            "method": "environment",
            "usernameVariable": "ALPHA_USER",
            "passwordVariable": "ALPHA_PASSWORD",
        },
    )
    beta_file = registry_manifest("beta", beta.host, {"method": "authFile", "path": str(beta_auth)})
    catalog = empty_catalog(tmp_path / "catalog", {"alpha": alpha_file, "beta": beta_file})
    write_entry(catalog, "alpha-image", [container(alpha_image)])
    write_entry(catalog, "beta-image", [container(beta_image)])
    validated = main(["validate", "--online", "--catalog", str(catalog)])
    checked = main(["check", "--catalog", str(catalog), "--out", str(tmp_path / "status.json")])
    seen_by_alpha, seen_by_beta = alpha.authorizations, beta.authorizations
    assert seen_by_alpha, "registry alpha was never sent its credentials"
    assert seen_by_beta, "registry beta was never sent its credentials"
    assert set(seen_by_alpha) == {_basic(*ALPHA)}
    assert set(seen_by_beta) == {_basic(*BETA)}
    # Not even part of the other's secret, in any header or body sent.
    assert BETA[1] not in " ".join(seen_by_alpha)
    assert ALPHA[1] not in " ".join(seen_by_beta)
    assert (validated, checked) == (0, 0), capsys.readouterr()
