"""The client over HTTP: kept-alive connections, the freshness window (max_age), proxies and
redirects, and how an answer is read off the wire."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import msgspec
import pytest
from image_catalog.cli import main
from image_catalog.errors import RegistryUnavailable, UsageError
from image_catalog.reader import memo
from image_catalog.reader.cache import Cache, CachedCopy
from image_catalog.reader.client import DEFAULT_MAX_AGE, IndexClient, Query
from image_catalog.web import connection, wire
from image_catalog.web.errors import ProtocolError
from support.site import SiteServer, serve_copy

VIEW = "views/target/rpi4/latest.json"


pytestmark = pytest.mark.usefixtures("isolated_reader")


@pytest.fixture
def server(shipped_site: Path, tmp_path: Path) -> Iterator[SiteServer]:
    with serve_copy(shipped_site, tmp_path / "served", keep_alive=True) as running:
        yield running


def _rpi4(client: IndexClient) -> list[str]:
    result = client.query(Query(target="rpi4"))
    assert result.warnings == []
    return [f"{s.name}@{s.version}" for s in result.images]


# --- the freshness window ------------------------------------------------------------------------


def test_within_max_age_no_request_is_made_after_it_a_conditional_one(
    server: SiteServer, tmp_path: Path
) -> None:
    now = time.time()
    clock = [now]
    client = IndexClient(server.url, cache_dir=tmp_path / "c", clock=lambda: clock[0], max_age=30)
    first = _rpi4(client)
    assert server.paths() == ["catalog.json", VIEW]
    clock[0] = now + 29
    assert _rpi4(client) == first
    # Another client of the same cache folder shares what the server confirmed.
    other = IndexClient(server.url, cache_dir=tmp_path / "c", clock=lambda: clock[0], max_age=30)
    assert _rpi4(other) == first
    assert server.paths() == ["catalog.json", VIEW]
    clock[0] = now + 31
    assert _rpi4(client) == first
    assert server.paths()[2:] == ["catalog.json", VIEW]
    assert server.count(VIEW, 304) == 1
    assert server.requests[-1]["If-None-Match"].startswith('"')
    # The window starts again from that confirmation.
    clock[0] = now + 60
    assert _rpi4(client) == first
    assert len(server.requests) == 4


def test_max_age_zero_always_revalidates(server: SiteServer, tmp_path: Path) -> None:
    client = IndexClient(server.url, cache_dir=tmp_path / "c", clock=lambda: 1e9, max_age=0)
    for _ in range(3):
        _rpi4(client)
    assert server.count("catalog.json", 200) == 1
    assert server.count("catalog.json", 304) == 2
    assert server.count(VIEW, 304) == 2


def test_a_confirmation_from_the_future_does_not_count(server: SiteServer, tmp_path: Path) -> None:
    clock = [2e9]
    client = IndexClient(server.url, cache_dir=tmp_path / "c", clock=lambda: clock[0], max_age=30)
    _rpi4(client)
    clock[0] = 2e9 - 5  # the clock went back
    _rpi4(client)
    assert server.count(VIEW, 304) == 1


def test_the_window_holds_across_processes_through_the_cache_folder(
    server: SiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    clock = [now]
    cache = tmp_path / "c"
    _rpi4(IndexClient(server.url, cache_dir=cache, clock=lambda: clock[0], max_age=30))
    monkeypatch.setattr(memo, "_SHARED", {})  # as a new process: nothing held in memory
    clock[0] = now + 20
    assert _rpi4(IndexClient(server.url, cache_dir=cache, clock=lambda: clock[0], max_age=30))
    assert len(server.requests) == 2
    monkeypatch.setattr(memo, "_SHARED", {})
    _rpi4(IndexClient(server.url, cache_dir=cache, clock=lambda: clock[0], max_age=10))
    assert server.count(VIEW, 304) == 1


def test_the_default_window_and_the_clis(
    server: SiteServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert DEFAULT_MAX_AGE == 1.0
    clock = [time.time()]
    client = IndexClient(server.url, cache_dir=tmp_path / "c", clock=lambda: clock[0])
    _rpi4(client)
    _rpi4(client)
    assert len(server.requests) == 2
    # The command revalidates every file unless --max-age says otherwise.
    cli = ["query", "--target", "rpi4", "--index", server.url]
    assert main(cli) == 0
    assert main(cli) == 0
    assert server.count(VIEW, 304) == 1
    assert main([*cli, "--max-age", "3600"]) == 0
    assert main(["show", "autosd10-rpi4", "--index", server.url, "--max-age", "3600"]) == 0
    assert main(["show", "autosd10-rpi4", "--index", server.url, "--max-age", "3600"]) == 0
    assert server.count(VIEW, 304) == 1
    assert server.paths().count("images/autosd10-rpi4.json") == 1
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main([*cli, "--max-age", "-1"])
    assert "--max-age: '-1' is not a number of seconds" in capsys.readouterr().err
    with pytest.raises(UsageError, match="max_age"):
        IndexClient(server.url, max_age=float("nan"))


# --- kept-alive connections ----------------------------------------------------------------------


def test_one_connection_answers_every_request_of_a_thread(
    server: SiteServer, tmp_path: Path
) -> None:
    client = IndexClient(server.url, cache_dir=tmp_path / "c", max_age=0)
    for _ in range(3):
        _rpi4(client)
    client.show("autosd10-rpi4")
    assert len(server.requests) == 7
    assert server.connections == 1
    assert "Connection" not in server.requests[-1]


def test_a_server_that_closes_each_connection_gets_a_new_one(
    shipped_site: Path, tmp_path: Path
) -> None:
    with SiteServer(shipped_site) as plain:  # HTTP/1.0: one answer per connection
        client = IndexClient(plain.url, cache_dir=tmp_path / "c", max_age=0)
        _rpi4(client)
        _rpi4(client)
        assert plain.connections == len(plain.requests) == 4


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_a_dropped_kept_connection_is_retried_once(
    server: SiteServer, tmp_path: Path, reset: bool
) -> None:
    client = IndexClient(server.url, cache_dir=tmp_path / "c", max_age=0)
    first = _rpi4(client)
    server.drop_connections(reset=reset)
    assert _rpi4(client) == first  # no warning: nothing was missed
    assert server.connections == 2
    assert server.count(VIEW, 304) == 1


def test_a_stopped_server_is_not_retried_forever(server: SiteServer, tmp_path: Path) -> None:
    client = IndexClient(server.url, cache_dir=tmp_path / "c", max_age=0)
    first = client.query(Query(target="rpi4")).images
    server.stop()
    result = client.query(Query(target="rpi4"))
    assert result.images == first
    assert len(result.warnings) == 2
    assert "the index server is unreachable (" in result.warnings[0]


def test_threads_keep_a_connection_each(server: SiteServer, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client = IndexClient(server.url, cache_dir=tmp_path / "c", max_age=0)
    _rpi4(client)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: _rpi4(client), range(40)))
    assert all(a == answers[0] for a in answers)
    assert server.connections <= 5
    assert len(server.requests) == 82


# --- HTTPS ---------------------------------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made with the openssl command."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is missing")
        pytest.skip("openssl is missing")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_https_verified_and_kept_alive(
    shipped_site: Path,
    tmp_path: Path,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection.forget_tls()  # made again with the certificate trusted
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with SiteServer(shipped_site, keep_alive=True, tls=certificate) as secure:
        assert secure.url.startswith("https://")
        client = IndexClient(secure.url, cache_dir=tmp_path / "c", max_age=0)
        first = _rpi4(client)
        assert _rpi4(client) == first
        assert secure.connections == 1
        assert secure.count(VIEW, 304) == 1
        # Not trusted: refused, not read.
        connection.forget_tls()
        monkeypatch.delenv("SSL_CERT_FILE")
        other = IndexClient(secure.url, cache_dir=tmp_path / "d", max_age=0)
        with pytest.raises(RegistryUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            other.site()
    connection.forget_tls()


# --- proxies and redirects ---------------------------------------------------------------------


def test_a_configured_proxy_is_used(
    server: SiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server answers requests for absolute URLs too, as a proxy would.
    monkeypatch.setenv("http_proxy", server.url)
    client = IndexClient("http://127.0.0.1:9/", cache_dir=tmp_path / "c", max_age=0)
    assert _rpi4(client)
    assert server.requests[-1]["Connection"] == "close"  # sent by urllib
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with pytest.raises(RegistryUnavailable, match="unreachable"):
        IndexClient("http://127.0.0.1:9/", cache_dir=tmp_path / "d", max_age=0).site()


def test_a_redirect_is_followed(server: SiteServer, tmp_path: Path) -> None:
    server.redirect_prefix = "old/"
    client = IndexClient(server.url + "old/", cache_dir=tmp_path / "c", max_age=0)
    assert _rpi4(client) == _rpi4(IndexClient(server.url, cache_dir=tmp_path / "d"))
    assert server.count("old/catalog.json", 301) >= 1
    assert server.count("catalog.json", 200) == 2


# --- answers off the wire ------------------------------------------------------------------------


def _reply(raw: bytes) -> tuple[SimpleNamespace, bool]:
    """The answer recorded in `raw` (status, headers, body), and whether its connection stays
    open."""
    answer = wire.read_head(wire.Wire.of_bytes(raw))
    body = answer.read(1 << 20, "recorded")
    reply = SimpleNamespace(status=answer.status, headers=answer.headers, body=body)
    return reply, wire.keeps_open(answer)


def test_chunked_bodies_interim_answers_and_folded_headers() -> None:
    reply, keep = _reply(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nETag: "a\r\n  b"\r\n\r\n'
        b"5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nTrailer: x\r\n\r\n"
    )
    assert (reply.status, reply.body, keep) == (200, b"hello!", True)
    assert reply.headers["etag"] == '"a b"'


def test_when_a_connection_stays_open() -> None:
    assert _reply(b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n")[1] is True
    assert _reply(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")[1] is False
    assert _reply(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi")[1] is False
    keep = b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi"
    assert _reply(keep)[1] is True
    to_close = _reply(b"HTTP/1.1 200 OK\r\n\r\nall of it")
    assert (to_close[0].body, to_close[1]) == (b"all of it", False)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"SSH-2.0-OpenSSH\r\n", "not an HTTP/1.x answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "closed after 5 of 10 bytes"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "malformed Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "two different"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported Transfer-Encoding"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"),
        (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\nA: b\r\n", "closed in the middle of the headers"),
        (b"HTTP/1.1 200 OK\r\n" + b"A: b\r\n" * 101 + b"\r\n", "more than 100 headers"),
        (b"HTTP/1.1 200 OK\r\nA: " + b"x" * 70000 + b"\r\n\r\n", "longer than 64 KiB"),
    ],
)
def test_answers_that_are_refused(raw: bytes, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem):
        _reply(raw)


def test_nothing_at_all_is_a_closed_connection() -> None:
    with pytest.raises(ConnectionError, match="closed the connection without answering"):
        _reply(b"")


def test_a_validator_that_cannot_be_sent_is_left_out(
    server: SiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "c"
    client = IndexClient(server.url, cache_dir=cache, max_age=0)
    client.site()
    cached = Cache(cache)
    url = server.url + "catalog.json"
    copy = cached.get(url)
    assert copy is not None
    # A cache folder written by something else: validators no header can carry.
    odd = msgspec.structs.replace(copy, etag="\u00e9\r\nX: y", last_modified="\u2603")
    cached.put(url, odd)
    monkeypatch.setattr(memo, "_SHARED", {})  # as a new process
    assert IndexClient(server.url, cache_dir=cache, max_age=0).site().warning is None
    assert "If-None-Match" not in server.requests[-1]
    assert "If-Modified-Since" not in server.requests[-1]
    assert server.count("catalog.json", 200) == 2


def test_a_query_process_over_one_connection(server: SiteServer, tmp_path: Path) -> None:
    env = {**os.environ, "IMAGE_CATALOG_CACHE_DIR": str(tmp_path / "c")}
    command = [sys.executable, "-m", "image_catalog", "query", "--index", server.url]
    for _ in range(2):
        done = subprocess.run(
            [*command, "--target", "rpi4"], capture_output=True, text=True, env=env, check=False
        )
        assert (done.returncode, done.stderr) == (0, "")
        assert done.stdout.startswith("NAME ")
    assert server.connections == 2  # one per process, each for both of its requests
    assert server.count(VIEW, 304) == 1


def test_a_file_left_where_the_cache_writes_is_replaced_not_followed(
    server: SiteServer, tmp_path: Path
) -> None:
    cache = Cache(tmp_path / "c")
    url = server.url + "catalog.json"
    body_path, meta_path = cache.paths(url)
    body_path.parent.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    # Named as the writer names its temp files: the link is left alone, the file swept.
    link = body_path.parent / f".{body_path.name}.0a1b2c3d.tmp"
    link.symlink_to(victim)
    (meta_path.parent / f".{meta_path.name}.0a1b2c3d.tmp").write_text("left by a crash")
    cache.put(url, CachedCopy(b"{}", '"e"', None, 1.0))
    assert victim.read_text() == "keep me"
    copy = cache.get(url)
    assert copy is not None
    assert (copy.body, copy.etag) == (b"{}", '"e"')
    assert sorted(p.name for p in body_path.parent.iterdir()) == sorted(
        [body_path.name, meta_path.name, link.name]
    )
