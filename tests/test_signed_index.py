"""A signed index end to end: `index build --sign-key`, the README's verification lines, the
publish-index workflow's signing step, and the client with a trust file.

Keys are made by the real ssh-keygen in temp folders; sites are built from real git repositories
and served on loopback.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, GitWork
from image_catalog.cli import main
from support.registry import require_tools
from support.site import SiteServer, site_bytes
from test_signing import allowed_signers, make_key
from test_workflows import run_step

README_HOST = "https://images.example.com/catalog"
GOOD = 'Good "image-catalog-index" signature for catalog with ED25519 key SHA256:'


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the user's cache, key or trust file, or goes through a proxy."""
    monkeypatch.setenv("IMAGE_CATALOG_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("IMAGE_CATALOG_INDEX", "IMAGE_CATALOG_TRUST", "IMAGE_CATALOG_SIGNING_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def key(tmp_path: Path) -> Path:
    require_tools("ssh-keygen")
    return make_key(tmp_path / "private-keys", "index-key")


def build(work: GitWork, out: Path, *options: str) -> int:
    return main(["index", "build", "--catalog", str(work.root / "catalog"), "--out", str(out),
                 *options])  # fmt: skip


def readme_block(containing: str) -> str:
    blocks = re.findall(r"```sh\n(.*?)```", (REPO / "README.md").read_text(), re.DOTALL)
    [block] = [b for b in blocks if containing in b]
    return str(block)


def run_readme_lines(url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """The README's verification lines as written, with the site's address in place of its
    example's, run by bash in `folder` (which holds allowed_signers)."""
    script = readme_block("ssh-keygen -Y verify").replace(README_HOST, url.rstrip("/"))
    environment = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- building and signing ---------------------------------------------------------------------


def test_a_signed_site_verifies_with_the_readme_lines(
    git_catalog: GitWork, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tools("curl", "sha256sum")
    site = tmp_path / "site"
    assert build(git_catalog, site, "--sign-key", str(key)) == 0
    out, err = capsys.readouterr()
    assert "SHA256SUMS signed (SHA256SUMS.sig) by ED25519 key SHA256:" in out
    head = str(git_catalog.repo.head.target)
    first = (site / "SHA256SUMS").read_text().splitlines()[0]
    assert first == f"# image-catalog index: catalog commit {head}, committed 2026-01-01T11:00:00Z"

    # Nothing of the key is printed or published: not its path, not its content.
    secret = key.read_text().splitlines()[1]
    for text in (out, err, *(d.decode("latin-1") for d in site_bytes(site).values())):
        assert "private-keys" not in text
        assert "index-key" not in text
        assert secret not in text

    checker = tmp_path / "consumer"
    checker.mkdir()
    allowed_signers(checker / "allowed_signers", key)
    with SiteServer(site) as server:
        done = run_readme_lines(server.url, checker)
    assert done.returncode == 0, done.stdout + done.stderr
    assert GOOD in done.stdout
    assert "latest.json: OK\n" in done.stdout
    assert first in done.stdout


@pytest.mark.parametrize("where", ["SHA256SUMS", "latest.json"])
def test_the_readme_lines_refuse_one_changed_byte(
    git_catalog: GitWork, key: Path, tmp_path: Path, where: str
) -> None:
    require_tools("curl", "sha256sum")
    site = tmp_path / "site"
    assert build(git_catalog, site, "--sign-key", str(key)) == 0
    data = bytearray((site / where).read_bytes())
    data[-3] ^= 0x01
    (site / where).write_bytes(bytes(data))
    checker = tmp_path / "consumer"
    checker.mkdir()
    allowed_signers(checker / "allowed_signers", key)
    with SiteServer(site) as server:
        done = run_readme_lines(server.url, checker)
    assert done.returncode != 0
    if where == "SHA256SUMS":
        assert "Signature verification failed: incorrect signature" in done.stderr
    else:
        assert GOOD in done.stdout
        assert "latest.json: FAILED" in done.stdout


def test_the_signing_key_from_the_environment(
    git_catalog: GitWork, key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGE_CATALOG_SIGNING_KEY_FILE", str(key))
    assert build(git_catalog, tmp_path / "site") == 0
    assert (tmp_path / "site/SHA256SUMS.sig").is_file()
    monkeypatch.delenv("IMAGE_CATALOG_SIGNING_KEY_FILE")
    assert build(git_catalog, tmp_path / "site") == 0
    assert not (tmp_path / "site/SHA256SUMS.sig").exists()  # without a key: unsigned, as before


def test_a_bad_key_fails_before_the_build_and_keeps_the_site(
    git_catalog: GitWork, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    assert build(git_catalog, site, "--sign-key", str(key)) == 0
    before = site_bytes(site)
    capsys.readouterr()
    key.chmod(0o644)
    assert build(git_catalog, site, "--sign-key", str(key)) == 2
    out, err = capsys.readouterr()
    assert (out, err) == (
        "",
        "error: the signing key file can be read by other users (mode 0644); ssh-keygen refuses "
        "such a key: make it private (chmod 600)\n",
    )
    assert site_bytes(site) == before


def test_signing_needs_the_catalog_in_git(
    key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "plain"
    subprocess.run(["cp", "-r", str(REPO / "catalog"), str(outside)], check=True)
    code = main(["index", "build", "--catalog", str(outside), "--out", str(tmp_path / "site"),
                 "--sign-key", str(key)])  # fmt: skip
    assert code == 2
    assert "not in a git repository" in capsys.readouterr().err
    assert not (tmp_path / "site").exists()


# --- the publish-index workflow ---------------------------------------------------------------

BUILD_STEP = "Build the index from the whole catalog"
VERIFY_STEP = "Verify the signed index with the repository's allowed_signers"


def test_the_workflow_signs_with_the_secret_and_removes_it(
    git_catalog: GitWork, key: Path, tmp_path: Path
) -> None:
    require_tools("sha256sum")
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    secret = key.read_text()
    allowed_signers(git_catalog.root / "allowed_signers", key)
    values = {"PAGES_URL": "https://example.github.io/catalog", "INDEX_SIGNING_KEY": secret}
    runner = {"RUNNER_TEMP": str(runner_temp)}
    signed = run_step("publish-index.yml", BUILD_STEP, git_catalog.root, values, runner)
    assert signed.returncode == 0, signed.stderr
    assert list(runner_temp.iterdir()) == []  # the key file is gone
    site = git_catalog.root / "site"
    assert (site / "SHA256SUMS.sig").is_file()
    for line in secret.splitlines()[1:-1]:
        assert line not in signed.stdout + signed.stderr
    assert str(runner_temp) not in signed.stdout + signed.stderr
    verified = run_step("publish-index.yml", VERIFY_STEP, git_catalog.root, {}, runner)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert GOOD in verified.stdout

    # A key that allowed_signers does not list fails the run before anything is published.
    (git_catalog.root / "allowed_signers").write_text("# no key yet\n")
    refused = run_step("publish-index.yml", VERIFY_STEP, git_catalog.root, {}, runner)
    assert refused.returncode != 0


def test_the_workflow_without_the_secret_publishes_unsigned(
    git_catalog: GitWork, tmp_path: Path
) -> None:
    values = {"PAGES_URL": "https://example.github.io/catalog", "INDEX_SIGNING_KEY": ""}
    runner = {"RUNNER_TEMP": str(tmp_path)}
    unsigned = run_step("publish-index.yml", BUILD_STEP, git_catalog.root, values, runner)
    assert unsigned.returncode == 0, unsigned.stderr
    assert "::warning::the INDEX_SIGNING_KEY secret is not set" in unsigned.stdout
    assert not (git_catalog.root / "site/SHA256SUMS.sig").exists()
    skipped = run_step("publish-index.yml", VERIFY_STEP, git_catalog.root, {}, runner)
    assert (skipped.returncode, skipped.stdout) == (0, "the index is unsigned: nothing to verify\n")
