"""A signed index that expires, end to end: `index build --valid-for`, and `query`, `show` and
`pull` with a trust file refusing an expired site unless `--allow-expired`, and the manual check
of docs/signing.md refusing it too.

Keys are made by the real ssh-keygen; sites are built from a real git repository, and their
signatures are made by ssh-keygen too (`SignedCatalog.resign` signs an older expiry).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from image_catalog.cli import main
from image_catalog.site.sums import parse_expiry
from support.docs import EXAMPLE_SITE, doc_block
from support.registry import require_tools
from support.signed import SignedCatalog
from support.site import SiteServer

pytestmark = [pytest.mark.usefixtures("isolated_reader"), pytest.mark.ssh, pytest.mark.git]

PAST = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> SignedCatalog:
    require_tools("ssh-keygen")
    return SignedCatalog(tmp_path_factory.mktemp("signed"))


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def expiry_of(site: Path) -> datetime | None:
    return parse_expiry((site / "SHA256SUMS").read_text().splitlines()[1])


@pytest.mark.parametrize(("option", "length"), [(None, timedelta(days=7)),
                                                ("36h", timedelta(hours=36)),
                                                ("90m", timedelta(minutes=90))])  # fmt: skip
def test_a_signed_site_expires_valid_for_after_the_build(
    signed: SignedCatalog, tmp_path: Path, option: str | None, length: timedelta
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    site = signed.build(tmp_path / "site", *(["--valid-for", option] if option else []))
    after = datetime.now(UTC)
    expires = expiry_of(site)
    assert expires is not None
    assert before + length <= expires <= after + length
    assert not (site / "SHA256SUMS.gz").exists()  # the header is read from SHA256SUMS itself


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0d", "'0d' is not a duration"),
        ("-1h", "'-1h' is not a duration"),
        ("7", "'7' is not a duration"),
        ("1.5d", "'1.5d' is not a duration"),
        ("2y", "'2y' is not a duration"),
        ("999999999d", "the index would expire after the year 9998"),
    ],
)
def test_a_bad_valid_for_is_a_usage_error(
    signed: SignedCatalog,
    tmp_path: Path,
    value: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["index", "build", "--catalog", str(signed.catalog), "--out", str(tmp_path / "site"),
            "--sign-key", str(signed.key), f"--valid-for={value}"]  # fmt: skip
    if value == "999999999d":
        code, _, err = run_cli(capsys, *argv)
    else:
        with pytest.raises(SystemExit) as exited:
            main(argv)
        code, err = int(exited.value.code or 0), capsys.readouterr().err
    assert code == 2
    assert message in err
    assert not (tmp_path / "site").exists()


def test_an_unsigned_site_names_no_expiry(signed: SignedCatalog, tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert main(["index", "build", "--catalog", str(signed.catalog), "--out", str(site)]) == 0
    lines = (site / "SHA256SUMS").read_text().splitlines()
    assert lines[0].startswith("# image-catalog index: catalog commit ")
    assert not lines[1].startswith("#")


def test_an_expired_site_is_refused_unless_allowed(
    signed: SignedCatalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = signed.build(tmp_path / "site")
    signed.resign(site, PAST)
    trust = ["--trust", str(signed.trust)]
    with SiteServer(site) as server:
        for command in (["query"], ["show", "board"]):
            code, out, err = run_cli(capsys, *command, "--index", server.url, *trust)
            assert (code, out) == (1, "")
            assert err.startswith(f"error: {server.url}SHA256SUMS: the signed index (catalog ")
            assert "expired at 2026-03-01T12:00:00Z, before now (" in err
            assert "the server is serving a stale site" in err
            assert err.endswith("refusing it (--allow-expired reads it anyway)\n")
            assert not list((tmp_path / "cache").glob("trust/*"))  # nothing of it recorded

        code, out, err = run_cli(capsys, "show", "board", "--index", server.url, *trust,
                                 "--allow-expired")  # fmt: skip
        assert code == 0
        assert "board" in out
        assert "expired at 2026-03-01T12:00:00Z" in err
        assert "read anyway (--allow-expired)" in err
        # Without a trust file nothing is verified, expiry included.
        assert run_cli(capsys, "query", "--index", server.url)[0] == 0


def test_pull_refuses_an_expired_site(
    signed: SignedCatalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = signed.build(tmp_path / "site")
    signed.resign(site, PAST)
    code, out, err = run_cli(capsys, "pull", "board", "--target", "qemu", "--out",
                             str(tmp_path / "out"), "--index", str(site), "--trust",
                             str(signed.trust))  # fmt: skip
    assert (code, out) == (1, "")
    assert "expired at 2026-03-01T12:00:00Z" in err
    assert not (tmp_path / "out").exists()


def test_a_site_from_before_expiry_was_signed_is_refused_unless_allowed(
    signed: SignedCatalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = signed.build(tmp_path / "site")
    signed.resign(site, None)  # the header an image-catalog older than expiry wrote
    trust = ["--index", str(site), "--trust", str(signed.trust)]
    code, out, err = run_cli(capsys, "query", *trust)
    assert (code, out) == (1, "")
    assert re.fullmatch(
        rf"error: {site}/SHA256SUMS: the signed header of catalog commit [0-9a-f]{{12}} of "
        r"2026-01-01T1\d:00:00Z states no expiry \(an index built by an image-catalog older than "
        r"signed expiry, or a replay of one\), so nothing bounds its age; refusing it "
        r"\(--allow-expired reads it anyway\)\n",
        err,
    )
    code, out, err = run_cli(capsys, "query", *trust, "--allow-expired")
    assert code == 0
    assert "board" in out
    assert "states no expiry" in err


@pytest.mark.parametrize("expires", [PAST, None])
def test_the_manual_check_refuses_an_expired_site(
    signed: SignedCatalog, tmp_path: Path, expires: datetime | None
) -> None:
    require_tools("curl", "sha256sum")
    site = signed.build(tmp_path / "site")
    signed.resign(site, expires)
    checker = tmp_path / "consumer"
    checker.mkdir()
    shutil.copy(signed.trust, checker / "allowed_signers")
    environment = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    with SiteServer(site) as server:
        script = doc_block("signing-verify").text.replace(EXAMPLE_SITE, server.url.rstrip("/"))
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                              cwd=checker, env=environment, capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip
    assert done.returncode != 0
    assert "latest.json: OK" in done.stdout  # the signature and the files are good
    stated = "2026-03-01T12:00:00Z" if expires else "no expiry stated"
    assert done.stderr.endswith(f"stale: the site expired ({stated})\n")
