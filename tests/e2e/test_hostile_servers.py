"""Hostile servers and files against the commands that read them: `query`/`show` over HTTP and
from a folder, `check --previous` from a URL or a file. Each case runs the command confined (an
address-space limit of 1 GiB, a timeout) and must end in its exact exit code and message, with no
traceback, no internal error and no raw control character: bodies bounded as sent and as
decoded, every request within its deadline, header values read strictly, redirects only to
http(s), no credentials in a URL or a message, names from a site kept inside it, and local files
that are not regular files refused without waiting on them."""

from __future__ import annotations

import json
import os
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.catalogs import empty_catalog
from support.confined import assert_refused, run_confined
from support.hostile import HostileServer, answer, endless, raw

pytestmark = pytest.mark.usefixtures("isolated_reader")

MiB = 1 << 20
# Served as catalog.json: the first file a query with a filter reads (to pick the smallest view).
FIRST = "catalog.json"


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def query(server: HostileServer, *extra: str) -> list[str]:
    return ["query", "--index", server.url, *(extra or ("--target", "rpi4"))]


def gzip_bomb() -> bytes:
    """1 GiB of zeros as 1,024 gzip members of 1 MiB each: about 1 MB to send."""
    return zlib.compress(b"\0" * MiB, 9, wbits=31) * 1024


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    ("play", "code", "message"),
    [
        pytest.param(
            raw(answer(200, gzip_bomb(), "Content-Encoding: gzip")),
            1,
            "catalog.json: the answer decodes to more than 16777216 bytes",
            id="gzip-bomb",
        ),
        pytest.param(
            endless(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", b"x" * 65536),
            1,
            "catalog.json: the answer is longer than 16777216 bytes",
            id="endless-body",
        ),
        pytest.param(
            endless(CHUNKED, b"10000\r\n" + b"x" * 65536 + b"\r\n"),
            1,
            "catalog.json: the answer is longer than 16777216 bytes",
            id="endless-chunked",
        ),
        pytest.param(
            raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n"),
            1,
            "the answer is 100000000000 bytes, more than 16777216",
            id="content-length-100-GB",
        ),
        pytest.param(
            raw(b"HTTP/1.1 200 OK\r\nContent-Length: 1e20\r\n\r\n"),
            4,
            "a malformed Content-Length '1e20'",
            id="content-length-1e20",
        ),
        pytest.param(
            raw(CHUNKED + b"f" * 20 + b"\r\n"),
            4,
            "a malformed chunk size",
            id="chunk-size-20-hex-digits",
        ),
        pytest.param(
            endless(b"", b"HTTP/1.1 100 Continue\r\n\r\n"),
            4,
            "more than 16 interim answers",
            id="endless-100-continue",
        ),
        pytest.param(
            raw(answer(302, b"", "Location: ftp://127.0.0.1/catalog.json")),
            1,
            "redirects to 'ftp://127.0.0.1/catalog.json': only http and https are followed",
            id="redirect-to-ftp",
        ),
        pytest.param(
            raw(answer(503, b"", reason="Busy \x1b[31mred\x1b[0m \x9b31mevil")),
            4,
            "HTTP 503 Busy \\x1b[31mred\\x1b[0m \\x9b31mevil",
            id="reason-phrase-escaped",
        ),
    ],
)
def test_a_hostile_answer_is_refused(
    hostile: HostileServer, play: object, code: int, message: str
) -> None:
    hostile.play(FIRST, play)  # type: ignore[arg-type]
    assert_refused(run_confined(query(hostile)), code, message)


@pytest.mark.slow  # waits out a deadline or an idle time of seconds
def test_a_dripping_server_meets_the_deadline(hostile: HostileServer) -> None:
    hostile.play(FIRST, endless(b"HTTP/1.1 200 OK\r\n", b"X", every=0.3))
    outcome = run_confined(query(hostile, "--target", "rpi4", "--deadline", "2"), timeout=20)
    assert_refused(outcome, 4, "no complete answer within 2 s")


@pytest.mark.slow  # waits out a deadline or an idle time of seconds
def test_a_previous_status_from_a_dripping_server_meets_the_deadline(
    hostile: HostileServer, tmp_path: Path
) -> None:
    hostile.play("status.json", endless(b"HTTP/1.1 200 OK\r\n", b"X", every=0.3))
    catalog = empty_catalog(tmp_path / "catalog", {})
    args = ["check", "--catalog", str(catalog), "--previous", hostile.url + "status.json"]
    outcome = run_confined([*args, "--timeout", "2"], timeout=20)
    assert_refused(outcome, 4, "no complete answer within 2 s")


def test_a_previous_status_gzip_bomb_is_refused(hostile: HostileServer, tmp_path: Path) -> None:
    hostile.play("status.json", raw(answer(200, gzip_bomb(), "Content-Encoding: gzip")))
    catalog = empty_catalog(tmp_path / "catalog", {})
    args = ["check", "--catalog", str(catalog), "--previous", hostile.url + "status.json"]
    assert_refused(run_confined(args), 1, "the answer decodes to more than 134217728 bytes")


@pytest.mark.parametrize("command", ["query", "check"])
def test_credentials_in_a_url_are_refused_and_never_shown(command: str, tmp_path: Path) -> None:
    url = "http://reader:S3CRET-TOKEN@127.0.0.1:9/"
    if command == "query":
        args, code = ["query", "--index", url], 2
    else:
        catalog = empty_catalog(tmp_path / "catalog", {})
        args, code = ["check", "--catalog", str(catalog), "--previous", url + "status.json"], 1
    outcome = run_confined(args)
    assert_refused(outcome, code, "credentials in")
    assert "S3CRET-TOKEN" not in outcome.output
    assert "***@127.0.0.1:9" in outcome.output


def _site_with_alias(site: Path, alias: str, target: str) -> None:
    """The site's catalog.json with `alias` naming the architecture `target`, which has a view."""
    catalog = json.loads((site / "catalog.json").read_bytes())
    catalog["vocabulary"]["aliases"]["architectures"][alias] = target
    catalog["vocabulary"]["architectures"].append(target)
    views = catalog["views"]["architecture"]
    views[target] = views["aarch64"]
    (site / "catalog.json").write_text(json.dumps(catalog))


def test_an_alias_that_leaves_the_site_is_refused(shipped_site: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(shipped_site, site)
    (tmp_path / "outside.json").write_text('{"secret": true}')
    _site_with_alias(site, "arm64", "../../../outside")
    outcome = run_confined(["query", "--index", str(site), "--arch", "arm64"])
    assert_refused(outcome, 1, "which is not a plain path inside the site")
    assert "secret" not in outcome.output


def test_an_alias_that_leaves_the_site_is_not_requested(
    shipped_site: Path, tmp_path: Path, hostile: HostileServer
) -> None:
    site = tmp_path / "site"
    shutil.copytree(shipped_site, site)
    _site_with_alias(site, "arm64", "../../../outside")
    hostile.files.update(
        {str(p.relative_to(site)): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    )
    outcome = run_confined(query(hostile, "--arch", "arm64"))
    assert_refused(outcome, 1, "which is not a plain path inside the site")
    assert all("outside" not in r.target for r in hostile.requests)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero-link"])
def test_a_site_file_that_is_not_a_file_is_refused(
    kind: str, shipped_site: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    shutil.copytree(shipped_site, site)
    (site / "catalog.json").unlink()
    if kind == "fifo":
        os.mkfifo(site / "catalog.json")
        message = "is a FIFO (named pipe), not a regular file"
    else:
        (site / "catalog.json").symlink_to("/dev/zero")
        message = "is a symbolic link"
    outcome = run_confined(["query", "--index", str(site), "--target", "rpi4"], timeout=20)
    assert_refused(outcome, 1, message)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_previous_status_that_is_not_a_file_is_refused(kind: str, tmp_path: Path) -> None:
    catalog = empty_catalog(tmp_path / "catalog", {})
    previous = tmp_path / "previous.json"
    if kind == "fifo":
        os.mkfifo(previous)
        message = "is a FIFO (named pipe), not a regular file"
    else:
        previous = Path("/dev/zero")
        message = "is a character device, not a regular file"
    args = ["check", "--catalog", str(catalog), "--previous", str(previous)]
    assert_refused(run_confined(args, timeout=20), 1, message)


def test_an_index_over_its_configured_ceiling_is_refused(shipped_site: Path) -> None:
    args = ["query", "--index", str(shipped_site), "--all-versions", "--max-index-bytes", "100"]
    assert_refused(run_confined(args), 1, "the limit is 100 bytes")
