"""What a reader with a trust file says when it refuses a site: exactly what is missing or wrong
(a trust file without a key, a site without its signature, without SHA256SUMS, or without
either, a signature by a key the trust file does not list, an altered SHA256SUMS), from a
folder and over HTTP."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from image_catalog.cli import main
from support.git import GitWork
from support.keys import allowed_signers, make_key
from support.paths import REPO
from support.registry import require_tools
from support.site import SiteServer, add_image, new_catalog

pytestmark = pytest.mark.ssh


class Sites:
    """A catalog in git, a site of it signed by `key`, one signed by `stranger`, a trust file."""

    def __init__(self, root: Path) -> None:
        work = GitWork(root / "repo")
        catalog = new_catalog(work.root / "catalog")
        add_image(catalog, "board", "1", "2026-01-01T00:00:00Z", targets=("qemu",))
        work.commit("One version", author="Admin")
        self.key = make_key(root / "keys", "publisher")
        self.stranger = make_key(root / "keys", "stranger")
        self.trust = allowed_signers(root / "allowed_signers", self.key)
        self.site = self.build(work, root / "site", self.key)
        self.foreign = self.build(work, root / "foreign", self.stranger)

    @staticmethod
    def build(work: GitWork, out: Path, key: Path) -> Path:
        command = ["index", "build", "--catalog", str(work.root / "catalog"), "--out", str(out)]
        assert main([*command, "--sign-key", str(key)]) == 0
        return out


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Sites:
    require_tools("ssh-keygen")
    return Sites(tmp_path_factory.mktemp("trust"))


def show(capsys: pytest.CaptureFixture[str], index: str | Path, trust: Path) -> tuple[int, str]:
    """`show board` of `index` with `trust`: the exit code and standard error (nothing printed
    on standard output)."""
    capsys.readouterr()
    code = main(["show", "board", "--index", str(index), "--trust", str(trust)])
    out, err = capsys.readouterr()
    assert out == ""
    return code, err


def without(site: Path, to: Path, *names: str) -> Path:
    shutil.copytree(site, to)
    for name in names:
        (to / name).unlink()
    return to


@pytest.mark.parametrize("content", ["", "# a comment only\n\n   \n"])
def test_a_trust_file_without_a_key_says_so(
    sites: Sites, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    trust = tmp_path / "allowed_signers"
    trust.write_text(content)
    assert show(capsys, sites.site, trust) == (
        2,
        f"error: {trust} lists no signer key: add the publisher's key (a line 'catalog "
        'namespaces="image-catalog-index" ssh-ed25519 AAAA...\'), see docs/signing.md\n',
    )


def test_the_repository_trust_file_without_a_key_says_so(
    sites: Sites, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped = REPO / "allowed_signers"
    listed = [line for line in shipped.read_text().splitlines() if line.strip() and line[0] != "#"]
    if listed:
        pytest.skip("the repository's allowed_signers lists a key")
    code, err = show(capsys, sites.site, shipped)
    assert code == 2
    assert err.startswith(f"error: {shipped} lists no signer key: add the publisher's key")


@pytest.mark.parametrize("served", [False, True], ids=["folder", "http"])
def test_a_site_without_its_signature_says_it_has_sha256sums(
    sites: Sites, tmp_path: Path, capsys: pytest.CaptureFixture[str], served: bool
) -> None:
    site = without(sites.site, tmp_path / "site", "SHA256SUMS.sig")
    with SiteServer(site) as server:
        where = server.url if served else str(site)
        code, err = show(capsys, where, sites.trust)
    assert code == 1
    assert err == (
        f"error: {where}: the site has SHA256SUMS but no SHA256SUMS.sig: it is not signed, and "
        f"a trust file ({sites.trust}) is configured; refusing it\n"
    )


@pytest.mark.parametrize("served", [False, True], ids=["folder", "http"])
def test_a_site_without_sha256sums_says_so(
    sites: Sites, tmp_path: Path, capsys: pytest.CaptureFixture[str], served: bool
) -> None:
    site = without(sites.site, tmp_path / "site", "SHA256SUMS")
    with SiteServer(site) as server:
        where = server.url if served else str(site)
        code, err = show(capsys, where, sites.trust)
    assert code == 1
    assert err == (
        f"error: {where}: the site has SHA256SUMS.sig but no SHA256SUMS, the file it signs; "
        "refusing it\n"
    )


@pytest.mark.parametrize("served", [False, True], ids=["folder", "http"])
def test_a_site_without_either_says_so(
    sites: Sites, tmp_path: Path, capsys: pytest.CaptureFixture[str], served: bool
) -> None:
    site = without(sites.site, tmp_path / "site", "SHA256SUMS", "SHA256SUMS.sig")
    with SiteServer(site) as server:
        where = server.url if served else str(site)
        code, err = show(capsys, where, sites.trust)
    assert code == 1
    assert err == (
        f"error: {where}: the site has neither SHA256SUMS nor SHA256SUMS.sig: it is not signed, "
        f"and a trust file ({sites.trust}) is configured; refusing it\n"
    )


def test_a_signature_by_an_unlisted_key_names_the_key(
    sites: Sites, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{sites.stranger}.pub"],
        capture_output=True,
        text=True,
        check=True,
    )
    fingerprint = listed.stdout.split()[1]
    code, err = show(capsys, sites.foreign, sites.trust)
    assert code == 1
    assert err == (
        f"error: {sites.foreign}/SHA256SUMS: the signature is not valid for SHA256SUMS by a key "
        f"that {sites.trust} allows for 'catalog' in namespace 'image-catalog-index': it was "
        f"made by ED25519 key {fingerprint}, which {sites.trust} does not list (add the "
        "publisher's new key if they changed keys, see docs/signing.md); refusing the index\n"
    )


def test_an_altered_sha256sums_is_not_blamed_on_the_key(
    sites: Sites, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = without(sites.site, tmp_path / "site")
    with (site / "SHA256SUMS").open("a") as sums:
        sums.write(f"{'0' * 64}  extra.json\n")
    code, err = show(capsys, site, sites.trust)
    assert code == 1
    assert err.startswith(f"error: {site}/SHA256SUMS: the signature is not valid for SHA256SUMS")
    assert "incorrect signature" in err
    assert "does not list" not in err
