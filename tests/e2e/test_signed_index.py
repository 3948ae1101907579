"""A signed index end to end: `index build --sign-key`, the verification lines of docs/signing.md,
and the client with a trust file. (The workflows' signing and verification, deploy-site.yml and
tool/deploy-site.sh, are tested in tests/e2e/test_workflows_deploy.py.)

Keys are made by the real ssh-keygen in temp folders; sites are built from real git repositories
and served on loopback.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from image_catalog.cli import main
from image_catalog.reader.cache import Cache
from image_catalog.reader.client import IndexClient, NotInIndex, Query
from image_catalog.reader.trust import HashMismatch, SignatureRefused
from support.confined import assert_refused, run_confined
from support.docs import EXAMPLE_SITE, doc_block
from support.git import GitWork
from support.keys import allowed_signers, make_key
from support.paths import REPO
from support.registry import require_tools
from support.site import SiteServer, add_image, new_catalog, site_bytes

GOOD = 'Good "image-catalog-index" signature for catalog with ED25519 key SHA256:'


pytestmark = pytest.mark.usefixtures("isolated_reader")


@pytest.fixture
def key(tmp_path: Path) -> Path:
    require_tools("ssh-keygen")
    return make_key(tmp_path / "private-keys", "index-key")


def build(work: GitWork, out: Path, *options: str) -> int:
    return main(["index", "build", "--catalog", str(work.root / "catalog"), "--out", str(out),
                 *options])  # fmt: skip


def run_readme_lines(url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """The verification lines of docs/signing.md as written, with the site's address in place of
    its example's, run by bash in `folder` (which holds allowed_signers)."""
    script = doc_block("signing-verify").text.replace(EXAMPLE_SITE, url.rstrip("/"))
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


@pytest.mark.ssh
@pytest.mark.git
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


@pytest.mark.ssh
@pytest.mark.git
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


@pytest.mark.ssh
@pytest.mark.git
def test_the_signing_key_from_the_environment(
    git_catalog: GitWork, key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGE_CATALOG_SIGNING_KEY_FILE", str(key))
    assert build(git_catalog, tmp_path / "site") == 0
    assert (tmp_path / "site/SHA256SUMS.sig").is_file()
    monkeypatch.delenv("IMAGE_CATALOG_SIGNING_KEY_FILE")
    assert build(git_catalog, tmp_path / "site") == 0
    assert not (tmp_path / "site/SHA256SUMS.sig").exists()  # without a key: unsigned, as before


@pytest.mark.ssh
@pytest.mark.git
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


@pytest.mark.ssh
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


# --- the client with a trust file -------------------------------------------------------------


class Signed:
    """A catalog in git with its keys: `build` makes a site of HEAD signed by one of them."""

    def __init__(self, root: Path) -> None:
        self.work = GitWork(root / "repo")
        catalog = new_catalog(self.work.root / "catalog")
        add_image(catalog, "board", "1", "2026-01-01T00:00:00Z", targets=("qemu",), disk=True)
        add_image(catalog, "board", "2", "2026-01-05T00:00:00Z", targets=("qemu",), disk=True)
        add_image(catalog, "devbox", "1.0", "2026-01-02T00:00:00Z", targets=("pc",))
        self.work.commit("Three versions", author="Admin")
        self.key = make_key(root / "keys", "first")
        self.second = make_key(root / "keys", "second")
        self.stranger = make_key(root / "keys", "stranger")
        self.trust = allowed_signers(root / "allowed_signers", self.key)
        self.both = allowed_signers(root / "both_signers", self.key, self.second)

    def build(self, out: Path, key: Path | None = None) -> Path:
        options = ["--sign-key", str(key or self.key)] if key != Path() else []
        assert build(self.work, out, *options) == 0
        return out


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Signed:
    require_tools("ssh-keygen")
    return Signed(tmp_path_factory.mktemp("signed"))


@pytest.fixture(scope="module")
def signed_site(signed: Signed, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return signed.build(tmp_path_factory.mktemp("site") / "site")


def copy_site(site: Path, to: Path) -> Path:
    shutil.copytree(site, to)
    return to


def tamper(site: Path, relative: str) -> None:
    """Change one byte of a file (a digest's first hex digit, where it has one), and its .gz."""
    path = site / relative
    data = bytearray(path.read_bytes())
    at = data.find(b"sha256:")
    at = at + 7 if at != -1 else len(data) - 3
    data[at] = ord("0") if data[at] != ord("0") else ord("1")
    path.write_bytes(bytes(data))
    gz = path.with_name(path.name + ".gz")
    if gz.exists():
        gz.write_bytes(gzip.compress(bytes(data), mtime=0))


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.ssh
def test_the_client_verifies_a_signed_site(
    signed: Signed, signed_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = IndexClient(signed_site)
    for location in (signed_site, None):
        with SiteServer(signed_site) as server:
            client = IndexClient(location or server.url, trust=signed.trust)
            assert client.query(Query()).images == plain.query(Query()).images
            assert (
                client.query(Query(target="qemu")).images
                == plain.query(Query(target="qemu")).images
            )
            assert (
                client.query(Query(all_versions=True)).images
                == plain.query(Query(all_versions=True)).images
            )
            assert client.show("board").version == plain.show("board").version
            assert client.show("board", "1").version == plain.show("board", "1").version
            if location is None:
                assert {"SHA256SUMS", "SHA256SUMS.sig"} <= set(server.paths())
    code, out, err = run_cli(
        capsys, "query", "--index", str(signed_site), "--trust", str(signed.trust)
    )
    assert (code, err) == (0, "")
    assert out.splitlines()[1].startswith("board")


@pytest.mark.ssh
def test_the_trust_file_from_the_environment(
    signed: Signed, signed_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unsigned = signed.build(tmp_path / "unsigned", Path())
    monkeypatch.setenv("IMAGE_CATALOG_TRUST", str(signed.trust))
    assert IndexClient(signed_site).show("devbox").version.version == "1.0"
    with pytest.raises(SignatureRefused, match=r"no SHA256SUMS.sig: it is not signed"):
        IndexClient(unsigned).show("devbox")


# Which question reads which file.
READS = {
    "catalog.json": ("query", "--target", "qemu"),
    "views/target/qemu/latest.json": ("query", "--target", "qemu"),
    "latest.json": ("query",),
    "index.json": ("query", "--all-versions"),
    "images/board.json": ("show", "board"),
    "images/board/1.json": ("show", "board@1"),
    "SHA256SUMS": ("show", "devbox"),
}


@pytest.mark.ssh
@pytest.mark.parametrize("relative", list(READS))
def test_one_changed_byte_is_refused_and_never_cached(
    signed: Signed,
    signed_site: Path,
    tmp_path: Path,
    relative: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    site = copy_site(signed_site, tmp_path / "site")
    tamper(site, relative)
    cache = tmp_path / "cache"
    with SiteServer(site) as server:
        code, out, err = run_cli(capsys, *READS[relative], "--index", server.url, "--trust",
                                 str(signed.trust))  # fmt: skip
    assert (code, out) == (1, "")
    if relative == "SHA256SUMS":
        assert err.startswith(f"error: {server.url}SHA256SUMS: the signature is not valid for ")
        assert "incorrect signature" in err
    else:
        assert err.startswith(f"error: {server.url}{relative}: sha256 ")
        assert f"the hash the signed SHA256SUMS lists for {relative}" in err
    # Nothing unverified was cached.
    assert Cache(cache).get(server.url + relative) is None
    if relative == "SHA256SUMS":
        assert Cache(cache).get(server.url + "SHA256SUMS.sig") is None
    # The same files, unchanged, are accepted.
    with SiteServer(signed_site) as server:
        code, out, _ = run_cli(capsys, *READS[relative], "--index", server.url, "--trust",
                               str(signed.trust))  # fmt: skip
    assert code == 0


@pytest.mark.ssh
def test_a_copy_held_in_memory_is_checked_for_every_reader_with_a_trust_file(
    signed: Signed, signed_site: Path, tmp_path: Path
) -> None:
    site = copy_site(signed_site, tmp_path / "site")
    tamper(site, "latest.json")
    cache = tmp_path / "cache"
    with SiteServer(site) as server:
        # A reader without a trust file takes the altered file; its copy is held in memory.
        assert IndexClient(server.url, cache_dir=cache).query(Query()).images
        trusting = IndexClient(server.url, cache_dir=cache, trust=signed.trust, max_age=0)
        with pytest.raises(HashMismatch, match=r"latest.json: sha256 "):
            trusting.query(Query())
        assert server.count("latest.json", 304) == 1  # the server said "unchanged": still checked
        # Held again; within the freshness window the server is not asked at all: still checked.
        assert IndexClient(server.url, cache_dir=cache).query(Query()).images
        trusting = IndexClient(server.url, cache_dir=cache, trust=signed.trust, max_age=3600)
        with pytest.raises(HashMismatch, match=r"latest.json: sha256 "):
            trusting.query(Query())
        assert server.count("latest.json", 304) == 1


@pytest.mark.ssh
def test_a_key_not_in_the_trust_file_is_refused(
    signed: Signed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = signed.build(tmp_path / "site", signed.stranger)
    code, out, err = run_cli(
        capsys, "show", "board", "--index", str(site), "--trust", str(signed.trust)
    )
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {site}/SHA256SUMS: the signature is not valid for SHA256SUMS ")
    assert f"by a key that {signed.trust} allows for 'catalog'" in err


@pytest.mark.ssh
def test_rotation_a_second_key_in_allowed_signers(signed: Signed, tmp_path: Path) -> None:
    site = signed.build(tmp_path / "site", signed.second)
    assert IndexClient(site, trust=signed.both).show("board").version.version == "2"
    with pytest.raises(SignatureRefused):
        IndexClient(site, trust=signed.trust).show("board")


@pytest.mark.ssh
def test_an_unsigned_site_is_refused_with_a_trust_file_only(
    signed: Signed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = signed.build(tmp_path / "site", Path())
    assert not (site / "SHA256SUMS.sig").exists()
    code, out, err = run_cli(capsys, "query", "--index", str(site), "--trust", str(signed.trust))
    assert (code, out) == (1, "")
    assert err == (
        f"error: {site}: the site has SHA256SUMS but no SHA256SUMS.sig: it is not signed, and a "
        f"trust file ({signed.trust}) is configured; refusing it\n"
    )
    code, out, err = run_cli(capsys, "query", "--index", str(site))
    assert (code, err) == (0, "")
    assert "board" in out


@pytest.mark.ssh
def test_a_file_the_signed_sums_does_not_list_is_not_read(
    signed: Signed, signed_site: Path, tmp_path: Path
) -> None:
    site = copy_site(signed_site, tmp_path / "site")
    shutil.copy(site / "images/board.json", site / "images/intruder.json")
    with pytest.raises(NotInIndex, match="no image 'intruder' in the index") as caught:
        IndexClient(site, trust=signed.trust).show("intruder")
    assert "images/intruder.json: not in the signed SHA256SUMS" in str(caught.value.__cause__)
    shutil.copy(site / "catalog.json", site / "status.json")
    with pytest.raises(NotInIndex, match=r"status\.json: not in the signed SHA256SUMS"):
        IndexClient(site, trust=signed.trust).status()


@pytest.mark.ssh
def test_a_replayed_older_site_is_refused_once_a_newer_was_seen(
    signed: Signed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = signed.build(tmp_path / "old")
    add_image(signed.work.root / "catalog", "newbox", "1", "2026-01-09T00:00:00Z")
    newer = signed.work.commit("One more", author="Admin")
    try:
        served = signed.build(tmp_path / "served")
        with SiteServer(served) as server:
            assert _names(IndexClient(server.url, trust=signed.trust)) == {
                "board", "devbox", "newbox"
            }  # fmt: skip
            # The server now answers with the older site, validly signed: a rollback.
            shutil.rmtree(served)
            shutil.copytree(old, served)
            code, out, err = run_cli(
                capsys, "query", "--index", server.url, "--trust", str(signed.trust)
            )
            assert (code, out) == (1, "")
            assert err.startswith(f"error: {server.url}SHA256SUMS: signed for catalog commit ")
            assert f"older than catalog commit {newer[:12]} of " in err
            assert "a replayed (rolled back) index; refusing it" in err
            # A reader that never saw the newer site has nothing to compare with.
            other = IndexClient(server.url, cache_dir=tmp_path / "other", trust=signed.trust)
            assert _names(other) == {"board", "devbox"}
    finally:
        (signed.work.root / "catalog/images/newbox/1.yaml").unlink()
        signed.work.commit("Without it again", author="Admin")


@pytest.mark.ssh
@pytest.mark.git
def test_a_parent_signed_in_the_same_second_as_its_child_is_refused(tmp_path: Path) -> None:
    signed = Signed(tmp_path / "same-second")
    parent = signed.build(tmp_path / "parent")
    first = str(signed.work.repo.head.target)
    signed.work.clock -= 3600  # the child is committed in the same second as its parent
    add_image(signed.work.root / "catalog", "newbox", "1", "2026-01-09T00:00:00Z")
    child = signed.work.commit("One more in the same second", author="Admin")
    served = signed.build(tmp_path / "served")
    query = ["query", "--index", str(served), "--trust", str(signed.trust)]
    assert run_confined(query).code == 0
    assert run_confined(query).code == 0  # the same site again is fine
    shutil.rmtree(served)
    shutil.copytree(parent, served)
    assert_refused(
        run_confined(query),
        1,
        f"error: {served}/SHA256SUMS: signed for catalog commit {first[:12]} of "
        f"2026-01-01T11:00:00Z, not newer than catalog commit {child[:12]} of "
        f"2026-01-01T11:00:00Z already seen from {served}: a replayed (rolled back) index; "
        "refusing it\n",
    )


def _names(client: IndexClient) -> set[str]:
    return {s.name for s in client.query(Query()).images}
