"""The record of signed sites seen (a damaged record counts as nothing seen, never a crash), and
the expiry a signed site states."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from image_catalog.reader.client import IndexClient
from image_catalog.reader.trust import (
    Expired,
    Rollback,
    SeenSites,
    SignatureRefused,
    SignedSums,
    Trust,
)
from image_catalog.site.sums import sums_header
from support.registry import require_tools
from support.signed import SignedCatalog
from support.site import SiteServer

LOCATION = "https://example.com/"


def _write(seen: SeenSites, text: str) -> None:
    """Replace the record of LOCATION (made by accepting a signed site first) with `text`."""
    header = sums_header("0" * 40, datetime(2026, 1, 1, tzinfo=UTC))
    seen.check(LOCATION, SignedSums.parse(header + "\n", "SHA256SUMS"))
    [record] = seen.root.iterdir()
    record.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    "committed",
    [
        "2026-01-01T00:00:00",  # no offset: not comparable with a signed time
        "9999-12-31T23:00:00-23:59",  # past year 9999 once in UTC
        "0001-01-01T00:00:00+23:59",
    ],
)
def test_a_record_with_an_unusable_time_is_as_good_as_none(tmp_path: Path, committed: str) -> None:
    seen = SeenSites(tmp_path)
    record = {"location": LOCATION, "commit": "0" * 40, "committed": committed}
    _write(seen, json.dumps(record))
    assert seen.newest(LOCATION) is None


def test_a_deep_record_is_as_good_as_none(tmp_path: Path) -> None:
    seen = SeenSites(tmp_path)
    _write(seen, "[" * 100_000 + "]" * 100_000)
    assert seen.newest(LOCATION) is None


def test_a_good_record_is_read_back(tmp_path: Path) -> None:
    seen = SeenSites(tmp_path)
    record = {"location": LOCATION, "commit": "0" * 40, "committed": "2026-01-01T00:00:00Z"}
    _write(seen, json.dumps(record))
    newest = seen.newest(LOCATION)
    assert newest is not None
    assert newest[1].year == 2026


# --- expiry ---------------------------------------------------------------------------------------

COMMITTED = datetime(2026, 1, 1, tzinfo=UTC)
EXPIRES = datetime(2026, 1, 8, 12, 0, tzinfo=UTC)


def _sums(expires: datetime | None = EXPIRES, commit: str = "0" * 40) -> SignedSums:
    return SignedSums.parse(sums_header(commit, COMMITTED, expires) + "\n", "site/SHA256SUMS")


def _trust(tmp_path: Path, now: datetime, *, allow_expired: bool = False) -> Trust:
    return Trust.of(
        tmp_path / "allowed_signers",
        tmp_path / "cache",
        lambda: now.timestamp(),
        allow_expired=allow_expired,
    )


def test_a_site_before_its_expiry_is_accepted_as_it_is(tmp_path: Path) -> None:
    sums = _sums()
    assert sums.expires == EXPIRES
    assert _trust(tmp_path, EXPIRES - timedelta(seconds=1)).unexpired(sums) is sums


def test_an_expired_site_is_refused_saying_when(tmp_path: Path) -> None:
    with pytest.raises(Expired) as refused:
        _trust(tmp_path, EXPIRES).unexpired(_sums())
    assert str(refused.value) == (
        "site/SHA256SUMS: the signed index (catalog commit 000000000000 of 2026-01-01T00:00:00Z) "
        "expired at 2026-01-08T12:00:00Z, before now (2026-01-08T12:00:00Z): the server is "
        "serving a stale site (a live one is signed anew by every build); refusing it "
        "(--allow-expired reads it anyway)"
    )
    assert refused.value.exit_code == 1


def test_an_expired_site_is_read_with_a_warning_when_allowed(tmp_path: Path) -> None:
    read = _trust(tmp_path, EXPIRES + timedelta(days=30), allow_expired=True).unexpired(_sums())
    assert read == _sums()
    assert read.warning is not None
    assert read.warning.endswith("expired at 2026-01-08T12:00:00Z, before now "
                                 "(2026-02-07T12:00:00Z): the server is serving a stale site (a "
                                 "live one is signed anew by every build); read anyway "
                                 "(--allow-expired)")  # fmt: skip


def test_a_signed_header_without_an_expiry_is_refused_unless_allowed(tmp_path: Path) -> None:
    old = _sums(expires=None)
    with pytest.raises(Expired, match=r"states no expiry \(an index built by an image-catalog "):
        _trust(tmp_path, COMMITTED).unexpired(old)
    allowed = _trust(tmp_path, COMMITTED, allow_expired=True).unexpired(old)
    assert allowed.warning is not None
    assert "states no expiry" in allowed.warning


def test_a_damaged_expiry_line_is_refused() -> None:
    text = sums_header("0" * 40, COMMITTED, EXPIRES).replace("2026-01-08", "2026-01-88")
    with pytest.raises(SignatureRefused, match="the second line does not give the expiry"):
        SignedSums.parse(text + "\n", "site/SHA256SUMS")


def test_the_newest_seen_never_goes_back(tmp_path: Path) -> None:
    seen = SeenSites(tmp_path)
    newer = SignedSums.parse(
        sums_header("1" * 40, COMMITTED + timedelta(hours=1)) + "\n", "site/SHA256SUMS"
    )
    seen.record(LOCATION, newer)
    seen.record(LOCATION, _sums())  # as a caller that skipped the rollback check would
    assert seen.newest(LOCATION) == ("1" * 40, COMMITTED + timedelta(hours=1))
    with pytest.raises(Rollback):
        seen.refuse_rollback(LOCATION, _sums())


# --- the client with a trust file, over a real signed site ----------------------------------------


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> SignedCatalog:
    require_tools("ssh-keygen")
    return SignedCatalog(tmp_path_factory.mktemp("signed"))


@pytest.mark.ssh
@pytest.mark.git
def test_the_client_keeps_to_the_expiry(signed: SignedCatalog, tmp_path: Path) -> None:
    site = signed.build(tmp_path / "site", "--valid-for", "1d")
    now = [time.time()]
    with SiteServer(site) as server:

        def client(cache: str, **options: Any) -> IndexClient:
            return IndexClient(server.url, cache_dir=tmp_path / cache, trust=signed.trust,
                               clock=lambda: now[0], **options)  # fmt: skip

        fresh = client("first")
        assert fresh.show("board").warnings == []
        # The same site a day later (a server frozen, or replaying it to a reader with an empty
        # cache): refused; a client that read it before reads SHA256SUMS again, and refuses it.
        now[0] += 86400
        with pytest.raises(Expired, match=r"SHA256SUMS: the signed index .* expired at "):
            client("empty").show("board")
        with pytest.raises(Expired):
            fresh.show("board")
        assert server.paths().count("SHA256SUMS") == 3
        # Allowed: every result carries the warning, and SHA256SUMS is not read again for it.
        allowed = client("forensics", allow_expired=True)
        for _ in range(2):
            shown = allowed.show("board")
            assert shown.version.version == "1"
            [warning] = shown.warnings
            assert "read anyway (--allow-expired)" in warning
        assert server.paths().count("SHA256SUMS") == 4
