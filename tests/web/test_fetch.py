"""`web.fetch.get` against a loopback server that plays hostile answers: every one ends in a named
error, within the deadline and the caps, never in memory growth or a hang."""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator

import pytest
from image_catalog.web.connection import Pool
from image_catalog.web.errors import (
    CredentialsInUrl,
    DeadlineExceeded,
    FetchError,
    ProtocolError,
    RedirectRefused,
    ServerUnreachable,
    TooLarge,
)
from image_catalog.web.fetch import FetchLimits, follow, get, stream
from image_catalog.web.wire import Wire, gunzip, read_head
from support.hostile import HostileServer, answer, endless, raw

MiB = 1 << 20
SMALL = FetchLimits(max_bytes=MiB, deadline=5.0, timeout=2.0)


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as running:
        yield running


def gzip_bomb() -> bytes:
    """1 GiB of zeros as 1,024 gzip members of 1 MiB each: about 1 MB to send."""
    return zlib.compress(b"\0" * MiB, 9, wbits=31) * 1024


def test_a_plain_answer_and_a_kept_connection(server: HostileServer) -> None:
    server.files["a.json"] = b'{"a": 1}'
    pool = Pool()
    first = get(server.url + "a.json", {}, SMALL, pool=pool)
    second = get(server.url + "a.json", {}, SMALL, pool=pool)
    assert (first.status, first.body) == (200, b'{"a": 1}')
    assert second.body == first.body
    assert len({id(r.sock) for r in server.requests}) == 1  # one connection for both


def test_a_gzip_bomb_stops_at_the_decoded_cap(server: HostileServer) -> None:
    bomb = gzip_bomb()
    assert len(bomb) < 2 * MiB
    server.play("bomb", raw(answer(200, bomb, "Content-Encoding: gzip")))
    limits = FetchLimits(max_bytes=4 * MiB, max_decoded=8 * MiB, deadline=10.0)
    with pytest.raises(TooLarge, match=f"decodes to more than {8 * MiB} bytes"):
        get(server.url + "bomb", {}, limits)


def test_gunzip_keeps_to_its_cap_and_reads_every_member() -> None:
    two = zlib.compress(b"a" * 10, wbits=31) + zlib.compress(b"b" * 10, wbits=31)
    assert gunzip(two, 20, "x") == b"a" * 10 + b"b" * 10
    with pytest.raises(TooLarge):
        gunzip(two, 19, "x")
    with pytest.raises(FetchError, match="corrupt"):
        gunzip(b"\x1f\x8bnot gzip", 100, "x")
    with pytest.raises(FetchError, match="cut short"):
        gunzip(two[:15], 100, "x")


@pytest.mark.parametrize(
    ("head", "piece"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", b"x" * 65536),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"10000\r\n" + b"x" * 65536 + b"\r\n",
        ),
    ],
    ids=["up-to-the-close", "chunked"],
)
def test_an_endless_body_stops_at_the_cap(server: HostileServer, head: bytes, piece: bytes) -> None:
    server.play("endless", endless(head, piece))
    with pytest.raises(TooLarge, match=f"longer than {MiB} bytes"):
        get(server.url + "endless", {}, SMALL)


def test_a_dripping_server_meets_the_deadline(server: HostileServer) -> None:
    server.play("drip", endless(b"HTTP/1.1 200 OK\r\n", b"X", every=0.2))
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="within 1 s"):
        get(server.url + "drip", {}, FetchLimits(max_bytes=MiB, deadline=1.0, timeout=0.5))
    assert time.monotonic() - started < 3


def test_endless_interim_answers_are_refused(server: HostileServer) -> None:
    server.play("continue", endless(b"", b"HTTP/1.1 100 Continue\r\n\r\n"))
    with pytest.raises(ProtocolError, match="interim"):
        get(server.url + "continue", {}, SMALL)


@pytest.mark.parametrize(
    ("header", "error", "message"),
    [
        ("Content-Length: 1e20", ProtocolError, "malformed Content-Length"),
        ("Content-Length: -1", ProtocolError, "malformed Content-Length"),
        ("Content-Length: 100000000000", TooLarge, "100000000000 bytes, more than"),
        ("Content-Length: " + "9" * 40, ProtocolError, "malformed Content-Length"),
        ("Transfer-Encoding: gzip", ProtocolError, "unsupported Transfer-Encoding"),
    ],
)
def test_absurd_headers_are_protocol_errors_or_too_large(
    server: HostileServer, header: str, error: type[Exception], message: str
) -> None:
    server.play("absurd", raw(f"HTTP/1.1 200 OK\r\n{header}\r\n\r\nxx".encode()))
    with pytest.raises(error, match=message):
        get(server.url + "absurd", {}, SMALL)


def test_a_chunk_size_of_twenty_hex_digits_is_refused(server: HostileServer) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    server.play("chunk", raw(head + b"f" * 20 + b"\r\nxx"))
    with pytest.raises(ProtocolError, match="malformed chunk size"):
        get(server.url + "chunk", {}, SMALL)


def test_redirects_only_to_http_and_never_down_from_https(server: HostileServer) -> None:
    server.play("ftp", raw(answer(302, b"", "Location: ftp://127.0.0.1/x")))
    with pytest.raises(RedirectRefused, match="only http and https are followed"):
        get(server.url + "ftp", {}, SMALL)
    with pytest.raises(RedirectRefused, match="never from https down to http"):
        follow("https://a.example/x", "http://a.example/y", {})
    server.play("loop", raw(answer(302, b"", "Location: /loop")))
    with pytest.raises(RedirectRefused, match="more than 5 redirects"):
        get(server.url + "loop", {}, SMALL)


def test_credentials_stay_with_their_origin(server: HostileServer) -> None:
    with HostileServer() as other:
        other.files["x"] = b"moved"
        server.play("here", raw(answer(302, b"", f"Location: {other.url}x")))
        secret = {"Authorization": "Bearer s3cret"}
        reply = get(server.url + "here", {}, SMALL, sensitive=secret)
        assert reply.body == b"moved"
        assert reply.url == other.url + "x"
        assert server.requests[0].headers["authorization"] == "Bearer s3cret"
        assert "authorization" not in other.requests[0].headers


def test_a_url_with_credentials_is_refused_without_showing_them() -> None:
    with pytest.raises(CredentialsInUrl) as refused:
        get("http://user:TOKEN@127.0.0.1:9/", {}, SMALL)
    assert "TOKEN" not in str(refused.value)
    assert "***@127.0.0.1:9" in str(refused.value)


def test_an_answer_cut_short_and_a_closed_server_are_unreachable(server: HostileServer) -> None:
    server.play("short", raw(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
    with pytest.raises(ProtocolError, match="closed after 3 of 10 bytes"):
        get(server.url + "short", {}, SMALL)
    with pytest.raises(ServerUnreachable):
        get("http://127.0.0.1:9/", {}, SMALL)


def test_a_recorded_answer_is_read_off_bytes() -> None:
    wire = Wire.of_bytes(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nETag: "a\r\n  b"\r\n\r\n'
        b"5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nTrailer: x\r\n\r\n"
    )
    head = read_head(wire)
    assert (head.status, head.headers["etag"]) == (200, '"a b"')
    assert head.read(100, "x") == b"hello!"


# --- stream: a body read by the caller, bounded by the idle time --------------------------------


def test_stream_hands_the_body_over_in_pieces(server: HostileServer) -> None:
    server.files["blob"] = b"x" * (3 * MiB)
    with stream(server.url + "blob", {}, SMALL) as answer:
        pieces = list(answer.chunks(4 * MiB))
    assert answer.status == 200
    assert sum(map(len, pieces)) == 3 * MiB
    assert max(map(len, pieces)) <= MiB


def test_stream_reads_the_body_into_the_callers_buffer(server: HostileServer) -> None:
    data = bytes(range(256)) * (12 * 1024)  # 3 MiB
    server.files["blob"] = data
    buffer = bytearray(MiB)
    got = bytearray()
    with stream(server.url + "blob", {}, SMALL) as answer:
        for piece in answer.pieces_into(buffer, 4 * MiB):
            assert piece.obj is buffer  # a view of the caller's buffer, no copy
            got += piece
    assert got == data
    with stream(server.url + "blob", {}, SMALL) as answer, pytest.raises(TooLarge):
        list(answer.pieces_into(buffer, MiB))


def test_pieces_into_of_a_chunked_body_and_of_one_cut_short(server: HostileServer) -> None:
    wire = Wire.of_bytes(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n"
    )
    pieces = read_head(wire).pieces_into(bytearray(4), 100, "x")
    assert [bytes(p) for p in pieces] == [b"hell", b"o", b"!"]
    server.play("short", raw(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
    with (
        stream(server.url + "short", {}, SMALL) as answer,
        pytest.raises(ProtocolError, match="closed after 3 of 10 bytes"),
    ):
        list(answer.pieces_into(bytearray(MiB), 100))


@pytest.mark.slow  # waits out a deadline or an idle time of seconds
def test_stream_has_no_total_deadline_but_an_idle_time(server: HostileServer) -> None:
    # A body that keeps coming outlives the head's deadline; one that stops does not.
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n"
    server.play("slow", endless(head, b"y" * 1024, every=0.05))
    limits = FetchLimits(max_bytes=MiB, deadline=0.5, timeout=1.0)
    started = time.monotonic()
    seen = 0
    with stream(server.url + "slow", {}, limits) as answer:
        for piece in answer.chunks(1 << 40):
            seen += len(piece)
            if time.monotonic() - started > 1.5:
                break
    assert seen > 10 * 1024  # read past the 0.5 s deadline
    server.play("stalls", endless(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", b"a", every=3))
    started = time.monotonic()
    with pytest.raises(ServerUnreachable), stream(server.url + "stalls", {}, limits) as answer:
        list(answer.chunks(100))
    assert time.monotonic() - started < 2.5  # the idle time, not the 3 s pause


def test_stream_drops_credentials_on_a_redirect_to_another_origin(server: HostileServer) -> None:
    with HostileServer() as store:
        store.files["data"] = b"blob bytes"
        server.play("blob", raw(answer(307, b"", f"Location: {store.url}data")))
        secret = {"Authorization": "Bearer s3cr3t"}
        with stream(server.url + "blob", {}, SMALL, sensitive=secret) as got:
            body = b"".join(got.chunks(MiB))
        assert body == b"blob bytes"
        assert got.url == store.url + "data"
        assert server.requests[0].headers["authorization"] == "Bearer s3cr3t"
        assert "authorization" not in store.requests[0].headers
