"""Tests of the test harness: the counting proxy in front of a real registry."""

from __future__ import annotations

import contextlib
import http.client
import os
from collections.abc import Iterator

import pytest
from support.counting import CountingProxy
from support.registry import LocalRegistry, require_tools

pytestmark = pytest.mark.registry

SIZE = 3 * 1024 * 1024 + 17
HEADERS_AT_MOST = 1024  # what the registry's answer headers may add to a blob


@pytest.fixture(scope="module")
def blob() -> Iterator[tuple[CountingProxy, str, bytes]]:
    require_tools("docker-registry")
    data = os.urandom(SIZE)
    with LocalRegistry() as registry, CountingProxy(registry.port) as proxy:
        digest = registry.push_blob("bench/counted", data)
        yield proxy, f"/v2/bench/counted/blobs/{digest}", data


def fetch(proxy: CountingProxy, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(proxy.host, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_counts_a_whole_download(blob: tuple[CountingProxy, str, bytes]) -> None:
    proxy, path, data = blob
    proxy.reset()
    status, body = fetch(proxy, path, {})
    assert (status, body) == (200, data)
    assert SIZE < proxy.served <= SIZE + HEADERS_AT_MOST
    assert 0 < proxy.received < HEADERS_AT_MOST


def test_counts_a_resumed_download_per_connection(blob: tuple[CountingProxy, str, bytes]) -> None:
    proxy, path, data = blob
    proxy.reset()
    before = len(proxy.connections)
    offset = SIZE - 1000
    status, body = fetch(proxy, path, {"Range": f"bytes={offset}-"})
    assert (status, body) == (206, data[offset:])
    fetch(proxy, path, {"Range": "bytes=0-9"})
    first, second = proxy.connections[before:]
    assert 1000 < first <= 1000 + HEADERS_AT_MOST
    assert 10 < second <= 10 + HEADERS_AT_MOST
    assert proxy.served == first + second


def test_close_ends_open_connections() -> None:
    require_tools("docker-registry")
    with LocalRegistry() as registry:
        proxy = CountingProxy(registry.port)
        proxy.start()
        connection = http.client.HTTPConnection(proxy.host, timeout=10)
        connection.request("GET", "/v2/")
        assert connection.getresponse().read() == b"{}"  # kept alive by HTTP/1.1
        proxy.close()
        with contextlib.suppress(OSError):  # buffered by the kernel, or refused at once
            connection.request("GET", "/v2/")
        with pytest.raises((http.client.HTTPException, OSError)):
            connection.getresponse()
        connection.close()
