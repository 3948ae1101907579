"""Signing SHA256SUMS and verifying it: real ssh-keygen keys made in temp folders."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from image_catalog.build.signing import (
    SIGNING_KEY_ENV,
    SigningError,
    SigningKey,
    expiry,
    parse_duration,
    sign_site,
)
from image_catalog.errors import UsageError
from image_catalog.reader.trust import (
    HashMismatch,
    Rollback,
    SeenSites,
    SignatureRefused,
    SignedSums,
    Trust,
    trust_file,
    verify_signature,
)
from image_catalog.site.sums import sums_header
from support.keys import allowed_signers, make_key

COMMIT = "0123456789abcdef0123456789abcdef01234567"
NEWER = "89abcdef0123456789abcdef0123456789abcdef"


def sums_text(files: dict[str, bytes], commit: str = COMMIT, time: str = "2026-01-02") -> str:
    header = sums_header(commit, datetime.fromisoformat(f"{time}T03:04:05+00:00"))
    rows = [f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())]
    return header + "\n" + "".join(rows)


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return make_key(tmp_path / "keys")


# --- the signing key --------------------------------------------------------------------------


def test_no_key_means_no_signing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    assert SigningKey.load(None) is None


@pytest.mark.ssh
def test_key_from_the_environment(monkeypatch: pytest.MonkeyPatch, key: Path) -> None:
    monkeypatch.setenv(SIGNING_KEY_ENV, str(key))
    loaded = SigningKey.load(None)
    assert loaded is not None
    shown = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{key}.pub"], check=True, capture_output=True, text=True
    ).stdout
    assert loaded.fingerprint in shown
    assert str(key) not in repr(loaded)


@pytest.mark.ssh
@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("missing", "the signing key file cannot be read (No such file or directory)"),
        ("open", "the signing key file can be read by other users (mode 0644)"),
        ("folder", "the signing key is not a regular file"),
        ("rsa", "the signing key is a ssh-rsa key; the index is signed with an ed25519 key"),
        ("passphrase", "ssh-keygen could not read the signing key: "),
        ("garbage", "ssh-keygen could not read the signing key: "),
    ],
)
def test_unusable_keys_are_refused_without_naming_them(
    tmp_path: Path, problem: str, message: str
) -> None:
    folder = tmp_path / "secret-place"
    path = folder / "private-key-file"
    if problem == "open":
        make_key(folder, path.name).chmod(0o644)
    elif problem == "folder":
        path.mkdir(parents=True)
    elif problem == "rsa":
        make_key(folder, path.name, "-t", "rsa", "-b", "2048")
    elif problem == "passphrase":
        make_key(folder, path.name, "-N", "a passphrase")
    elif problem == "garbage":
        folder.mkdir()
        path.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n")
        path.chmod(0o600)
    with pytest.raises(SigningError) as caught:
        SigningKey.load(path)
    assert message in str(caught.value)
    assert "secret-place" not in str(caught.value)
    assert "private-key-file" not in str(caught.value)
    assert isinstance(caught.value, UsageError)


# --- signing and verifying --------------------------------------------------------------------


@pytest.mark.ssh
def test_a_signed_sums_verifies_with_ssh_keygen_and_here(tmp_path: Path, key: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "SHA256SUMS").write_text(sums_text({"catalog.json": b"{}\n"}))
    loaded = SigningKey.load(key)
    assert loaded is not None
    sign_site(site, loaded)
    signature = (site / "SHA256SUMS.sig").read_text()
    assert signature.startswith("-----BEGIN SSH SIGNATURE-----")
    assert str(key) not in signature
    trust = allowed_signers(tmp_path / "allowed_signers", key)
    command = "ssh-keygen -Y verify -f allowed_signers -I catalog -n image-catalog-index"
    with (site / "SHA256SUMS").open("rb") as stdin:
        done = subprocess.run(
            [*command.split(), "-s", str(site / "SHA256SUMS.sig")],
            cwd=tmp_path,
            stdin=stdin,
            capture_output=True,
            text=True,
        )
    assert done.returncode == 0, done.stderr
    assert 'Good "image-catalog-index" signature for catalog' in done.stdout
    verify_signature((site / "SHA256SUMS").read_bytes(), signature, trust, "here")


@pytest.mark.ssh
def test_another_key_or_another_message_is_refused(tmp_path: Path, key: Path) -> None:
    other = make_key(tmp_path / "other-keys", "other")
    loaded = SigningKey.load(key)
    assert loaded is not None
    message = sums_text({"a.json": b"1\n"}).encode()
    signature = loaded.sign(message)
    trust_other = allowed_signers(tmp_path / "other_signers", other)
    with pytest.raises(SignatureRefused, match=r"^site/SHA256SUMS: the signature is not valid"):
        verify_signature(message, signature, trust_other, "site/SHA256SUMS")
    trust = allowed_signers(tmp_path / "allowed_signers", key)
    with pytest.raises(SignatureRefused, match="incorrect signature"):
        verify_signature(message.replace(b"a.json", b"b.json"), signature, trust, "sums")
    with pytest.raises(SignatureRefused, match="refusing the index"):
        verify_signature(message, "not a signature\n", trust, "sums")


@pytest.mark.ssh
def test_rotation_a_second_key_in_allowed_signers_verifies(tmp_path: Path, key: Path) -> None:
    new = make_key(tmp_path / "new-keys", "new")
    trust = allowed_signers(tmp_path / "allowed_signers", key, new)
    message = sums_text({}).encode()
    for signer in (key, new):
        loaded = SigningKey.load(signer)
        assert loaded is not None
        verify_signature(message, loaded.sign(message), trust, "sums")


def test_a_missing_trust_file_is_a_usage_error(tmp_path: Path) -> None:
    trust = tmp_path / "allowed_signers"
    trust.write_text('catalog namespaces="image-catalog-index" ssh-ed25519 AAAA index-2026\n')
    assert trust_file(str(trust)) == trust
    with pytest.raises(UsageError, match=r"--trust .*/nowhere: no such file"):
        trust_file(tmp_path / "nowhere")


# --- SHA256SUMS and its first line ------------------------------------------------------------


def test_sha256sum_skips_the_first_line(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(b"1\n")
    (tmp_path / "SHA256SUMS").write_text(sums_text({"a.json": b"1\n"}))
    done = subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "a.json: OK\n", "")


def test_signed_sums_lists_hashes_and_refuses_others() -> None:
    files = {"catalog.json": b"{}\n", "images/a.json": b"[]\n", "x/images/a.json": b"0\n"}
    sums = SignedSums.parse(sums_text(files), "SHA256SUMS")
    assert sums.commit == COMMIT
    assert sums.committed == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert sums.digest("images/a.json") == hashlib.sha256(b"[]\n").hexdigest()
    assert sums.digest("a.json") is None
    sums.check("catalog.json", b"{}\n", "site/catalog.json")
    with pytest.raises(HashMismatch, match=r"^site/catalog.json: sha256 [0-9a-f]{64} does not"):
        sums.check("catalog.json", b"{ }\n", "site/catalog.json")
    with pytest.raises(HashMismatch, match="not listed in the signed SHA256SUMS"):
        sums.check("latest.json", b"", "site/latest.json")


def test_sums_without_the_commit_line_are_refused() -> None:
    with pytest.raises(SignatureRefused, match="does not name the catalog commit"):
        SignedSums.parse(sums_text({}).partition("\n")[2], "SHA256SUMS")


def test_an_older_signed_site_is_a_rollback(tmp_path: Path) -> None:
    seen = SeenSites(tmp_path / "cache")
    old = SignedSums.parse(sums_text({}, COMMIT, "2026-01-01"), "SHA256SUMS")
    new = SignedSums.parse(sums_text({}, NEWER, "2026-02-01"), "SHA256SUMS")
    seen.check("https://example.com/", old)
    seen.check("https://example.com/", new)
    seen.check("https://example.com/", new)
    with pytest.raises(Rollback, match=r"signed for catalog commit 0123456789ab of 2026-01-01T"):
        seen.check("https://example.com/", old)
    seen.check("https://elsewhere.example.com/", old)  # another site has its own history


def test_another_commit_of_the_same_second_is_a_rollback(tmp_path: Path) -> None:
    seen = SeenSites(tmp_path / "cache")
    child = SignedSums.parse(sums_text({}, NEWER, "2026-01-01"), "SHA256SUMS")
    parent = SignedSums.parse(sums_text({}, COMMIT, "2026-01-01"), "SHA256SUMS")
    seen.check("https://example.com/", child)
    seen.check("https://example.com/", child)  # the same site again
    with pytest.raises(Rollback) as refused:
        seen.check("https://example.com/", parent)
    assert str(refused.value) == (
        f"SHA256SUMS: signed for catalog commit {COMMIT[:12]} of 2026-01-01T03:04:05Z, not newer "
        f"than catalog commit {NEWER[:12]} of 2026-01-01T03:04:05Z already seen from "
        "https://example.com/: a replayed (rolled back) index; refusing it"
    )
    seen.check("https://example.com/", child)


def test_an_unsigned_site_is_refused_with_a_trust_file(tmp_path: Path) -> None:
    trust = Trust(tmp_path / "allowed_signers", SeenSites(tmp_path / "cache"))
    with pytest.raises(
        SignatureRefused, match=r"the site has SHA256SUMS but no SHA256SUMS.sig: it is not signed"
    ):
        trust.accept("site", sums_text({}).encode(), None, "site/SHA256SUMS")


# --- how long a signed site stays valid ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "length"),
    [("7d", timedelta(days=7)), ("36h", timedelta(hours=36)), ("90m", timedelta(minutes=90))],
)
def test_durations(text: str, length: timedelta) -> None:
    assert parse_duration(text) == length


@pytest.mark.parametrize("text", ["0d", "0m", "-1d", "+1d", "1.5h", "7", "d", "1w", "7 d", ""])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration: give a whole number above 0"):
        parse_duration(text)


def test_the_expiry_is_the_build_time_plus_the_duration_within_the_years_a_site_holds() -> None:
    now = datetime(2026, 1, 31, 12, 0, 0, 500_000, tzinfo=UTC)
    assert expiry(timedelta(days=7), now) == datetime(2026, 2, 7, 12, 0, tzinfo=UTC)
    for length in (timedelta(0), timedelta(seconds=-1)):
        with pytest.raises(UsageError, match="must stay valid for a while"):
            expiry(length, now)
    with pytest.raises(UsageError, match="would expire after the year 9998"):
        expiry(timedelta(days=3_000_000), now)
    with pytest.raises(UsageError, match="would expire after the year 9998"):
        expiry(timedelta.max, now)
