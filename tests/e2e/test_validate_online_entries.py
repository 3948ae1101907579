"""`validate --online ENTRY...`: the online checks of the entries named, and a hint when the only
entries left unchecked are those of registries never reachable from here; a real registry on
loopback and a loopback port nothing listens on."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from image_catalog.cli import main
from support.catalogs import registry_manifest
from support.oci import push_image
from support.pushed import container, write_entry
from support.registry import LocalRegistry


def _closed_port() -> int:
    """A loopback port nothing listens on (bound once, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def mixed(registry: LocalRegistry, local_catalog: Path) -> tuple[Path, str]:
    """`app` on the loopback registry; `far` on a declared registry that refuses connections."""
    write_entry(local_catalog, "app", [container(push_image(registry, "online/app", "1"))])
    host = f"127.0.0.1:{_closed_port()}"
    (local_catalog / "registries/gone.yaml").write_text(registry_manifest("gone", host))
    image = push_image(registry, "online/far", "1")
    entry = write_entry(local_catalog, "far", [container(image)])
    entry.write_text(entry.read_text().replace(registry.host, host))
    return local_catalog, host


def test_only_the_named_entries_are_checked_online(
    mixed: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    catalog, _ = mixed
    for selector in (str(catalog / "images/app/1.0.yaml"), "app@1.0", "app"):
        assert main(["validate", "--catalog", str(catalog), "--online", selector]) == 0
        out = capsys.readouterr().out
        assert out.endswith(
            f"{catalog}: the catalog is valid (2 images, 2 registries, online checks)\n"
        )


def test_unreachable_registries_get_a_hint(
    mixed: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    catalog, host = mixed
    assert main(["validate", "--catalog", str(catalog), "--online", "--retries", "0"]) == 4
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == (
        f"hint: {host} could not be reached from here at all (connection refused or no such "
        "host), so its entries were not checked; check only what changed with --base REF (e.g. "
        "--base origin/main), or name the entries to check: validate --online "
        "catalog/images/NAME/VERSION.yaml (or NAME@VERSION, NAME)"
    )
    assert "not checked: far@1.0: " in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--online", "nothing"], "error: nothing: no image of that name in the catalog"),
        (["--online", "app@9"], "error: app@9: no such entry in the catalog"),
        (["--online", "images/app/9.yaml"], "error: images/app/9.yaml: no such entry file"),
        (["app"], "error: ENTRY selects what is checked online; add --online"),
    ],
)
def test_a_selection_that_names_nothing_is_a_usage_error(
    mixed: tuple[Path, str],
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    catalog, _ = mixed
    assert main(["validate", "--catalog", str(catalog), *arguments]) == 2
    assert capsys.readouterr().err.startswith(message)


def test_a_registry_whose_token_is_not_here_leaves_the_others_checked(
    registry: LocalRegistry, local_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cluster registry's token is mounted only in the cluster: its entries are one problem on
    its declaration (exit 1), the other registries' entries are still checked, and the hint says
    how to check from here."""
    good = write_entry(local_catalog, "app", [container(push_image(registry, "online/app", "1"))])
    host = f"127.0.0.1:{_closed_port()}"
    token = {"method": "serviceAccountToken", "tokenPath": str(tmp_path / "no-token")}
    (local_catalog / "registries/cluster.yaml").write_text(
        registry_manifest("cluster", host, token)
    )
    image = push_image(registry, "online/far", "1")
    far = write_entry(local_catalog, "far", [container(image)])
    far.write_text(far.read_text().replace(registry.host, host))
    # The local registry's entry is checked: its digest, changed, is reported as not found.
    text = good.read_text()
    digest = text.split("@sha256:", 1)[1][:64]
    good.write_text(text.replace(digest, "0" * 64))

    assert main(["validate", "--catalog", str(local_catalog), "--online"]) == 1
    out = capsys.readouterr().out
    assert "catalog/registries/cluster.yaml:" in out
    assert f"spec.auth.tokenPath: the service-account token file {tmp_path / 'no-token'}" in out
    assert "(1 entry on it not checked: far@1.0)" in out
    assert f"{registry.host}/online/app@sha256:{'0' * 64} was not found" in out
    assert out.splitlines()[-1].startswith(
        "hint: registry cluster names a file this machine does not have"
    )
