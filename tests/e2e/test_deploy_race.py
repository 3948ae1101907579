"""Reading a site while it is deployed: SHA256SUMS of one build and a file of another.

A loopback server swaps the site between two requests. With a trust file, a hash mismatch reads
SHA256SUMS (and its signature) again, once, then the file: the read succeeds with the new site,
and a server that stays inconsistent still ends in the hash mismatch, after exactly one retry.
The retry never weakens the rollback check. Without a trust file, a body cut short of its
Content-Length is asked for once more.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from image_catalog.cli import main
from image_catalog.reader.client import IndexClient, Query
from support.hostile import HostileServer, Request, answer
from support.registry import require_tools
from support.signed import SignedCatalog
from support.site import site_bytes

pytestmark = [pytest.mark.usefixtures("isolated_reader"), pytest.mark.ssh, pytest.mark.git]

SIGNED = ("SHA256SUMS", "SHA256SUMS.sig")
Site = dict[str, bytes]


class Sites:
    """An older and a newer signed site of one catalog (the newer holds one more image)."""

    def __init__(self, root: Path) -> None:
        self.catalog = SignedCatalog(root)
        self.old = site_bytes(self.catalog.build(root / "old"))
        self.newer_commit = self.catalog.add("newbox")
        self.new = site_bytes(self.catalog.build(root / "new"))


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Sites:
    require_tools("ssh-keygen")
    return Sites(tmp_path_factory.mktemp("race"))


def mixed(sums_from: Site, files_from: Site) -> Site:
    return {**files_from, **{name: sums_from[name] for name in SIGNED}}


def swapping(server: HostileServer, first: Site, then: Site, after: int) -> None:
    """Answer the first `after` requests from `first`, every later one from `then`."""

    def play_for(path: str) -> Callable[[Request], None]:
        def play(request: Request) -> None:
            site = first if len(server.requests) <= after else then
            body = site.get(path)
            if body is None:
                request.send(answer(404, b"not here\n", "Connection: close"))
            else:
                request.send(answer(200, body, "Connection: close"))

        return play

    for path in first.keys() | then.keys():
        server.play(path, play_for(path))


def paths(server: HostileServer) -> list[str]:
    return [r.target.lstrip("/") for r in server.requests]


def query(capsys: pytest.CaptureFixture[str], url: str, trust: Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["query", "--index", url, "--trust", str(trust)])
    out, err = capsys.readouterr()
    return code, out, err


FIRST_READS = ["SHA256SUMS.sig", "SHA256SUMS", "latest.json"]


@pytest.mark.parametrize("order", ["old sums, then new files", "new sums, then old files"])
def test_a_read_during_a_deploy_ends_with_the_new_site(
    sites: Sites, order: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if order == "old sums, then new files":
        first, after = sites.old, 2  # the deploy lands between SHA256SUMS and latest.json
    else:
        first, after = mixed(sites.new, sites.old), 3  # SHA256SUMS went up first
    with HostileServer() as server:
        swapping(server, first, sites.new, after)
        code, out, err = query(capsys, server.url, sites.catalog.trust)
        assert (code, err) == (0, "")
        assert "newbox" in out
        assert paths(server) == FIRST_READS * 2
        # The newer site is what the reader has seen: the older one is a rollback from now on.
        swapping(server, sites.old, sites.old, 0)
        code, out, err = query(capsys, server.url, sites.catalog.trust)
        assert (code, out) == (1, "")
        assert "a replayed (rolled back) index; refusing it" in err


def test_a_site_that_stays_inconsistent_is_a_hash_mismatch_after_one_retry(
    sites: Sites, capsys: pytest.CaptureFixture[str]
) -> None:
    inconsistent = mixed(sites.old, sites.new)
    with HostileServer() as server:
        swapping(server, inconsistent, inconsistent, 0)
        code, out, err = query(capsys, server.url, sites.catalog.trust)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {server.url}latest.json: sha256 ")
    assert "the hash the signed SHA256SUMS lists for latest.json" in err
    assert paths(server) == FIRST_READS * 2


def test_the_retry_never_takes_an_older_site(
    sites: Sites, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """New SHA256SUMS, then the server goes back to the old site: the SHA256SUMS read again is
    a rollback of the one just accepted, and refused as one."""
    with HostileServer() as server:
        swapping(server, mixed(sites.new, sites.old), sites.old, 3)
        code, out, err = query(capsys, server.url, sites.catalog.trust)
        assert (code, out) == (1, "")
        assert f"older than catalog commit {sites.newer_commit[:12]} of " in err
        assert "a replayed (rolled back) index; refusing it" in err
        assert paths(server) == [*FIRST_READS, *SIGNED[::-1]]


def cut_short_once(server: HostileServer, body: bytes) -> Callable[[Request], None]:
    """latest.json: the first answer announces the whole body and stops halfway."""

    def play(request: Request) -> None:
        whole = answer(200, body, "Connection: close")
        first = sum(r.target == "/latest.json" for r in server.requests) == 1
        request.send(whole[: len(whole) - len(body) // 2] if first else whole)

    return play


def test_a_body_cut_short_is_asked_for_once_more(sites: Sites, tmp_path: Path) -> None:
    with HostileServer(files=dict(sites.new)) as server:
        server.play("latest.json", cut_short_once(server, sites.new["latest.json"]))
        result = IndexClient(server.url, cache_dir=tmp_path / "cache").query(Query())
    assert "newbox" in {s.name for s in result.images}
    assert paths(server) == ["latest.json", "latest.json"]


def test_a_body_always_cut_short_is_unreachable_after_one_retry(
    sites: Sites, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = sites.new["latest.json"]
    with HostileServer() as server:
        whole = answer(200, body, "Connection: close")
        server.play("latest.json", lambda request: request.send(whole[: len(whole) - 10]))
        code = main(["query", "--index", server.url])
    err = capsys.readouterr().err
    assert code == 4
    assert f"the connection closed after {len(body) - 10} of {len(body)} bytes" in err
    assert paths(server) == ["latest.json", "latest.json"]


def test_a_signature_of_another_build_is_read_again_once(
    sites: Sites, capsys: pytest.CaptureFixture[str]
) -> None:
    with HostileServer() as server:
        swapping(server, sites.old, sites.new, 1)  # the deploy lands between the two
        code, out, err = query(capsys, server.url, sites.catalog.trust)
        assert (code, err) == (0, "")
        assert "newbox" in out
        assert paths(server) == [*SIGNED[::-1], *FIRST_READS]
    crossed = {**sites.new, "SHA256SUMS.sig": sites.old["SHA256SUMS.sig"]}
    with HostileServer() as server:
        swapping(server, crossed, crossed, 0)
        code, out, err = query(capsys, server.url, sites.catalog.trust)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {server.url}SHA256SUMS: the signature is not valid for ")
    assert paths(server) == [*SIGNED[::-1]] * 2
