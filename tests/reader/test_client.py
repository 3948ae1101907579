"""`query`, `show` and the client: filters, ordering, aliases, HTTP caching, bad input."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_catalog.build.render import build_from_scratch
from image_catalog.cli import main
from image_catalog.errors import CatalogError, RegistryUnavailable, UsageError
from image_catalog.reader.client import (
    IndexClient,
    NotInIndex,
    Query,
    QueryResult,
)
from image_catalog.reader.http import describe_age
from image_catalog.reader.query import choose_file
from image_catalog.site.contract import SiteDoc, ViewDoc, encode
from image_catalog.site.parse import parser
from support.site import SiteServer, add_image, new_catalog, serve_copy

pytestmark = pytest.mark.usefixtures("isolated_reader")


@pytest.fixture(scope="module")
def fleet_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog made to exercise the filters.

    - board: 3 versions; the newest (v3, x86_64 + aarch64) is deprecated, v2 is aarch64 only;
    - devbox: 2 versions on qemu, tags change between versions;
    - acrn-box: x86_64 only, distro written as the alias `autosd`;
    - tie-a / tie-b: published at the same time (order falls back to name).
    """
    root = tmp_path_factory.mktemp("fleet")
    catalog = new_catalog(root / "catalog")
    add_image(catalog, "board", "1", "2026-01-01T00:00:00Z", architectures=("aarch64",),
              targets=("rcar_s4",), tags=("production",), disk=True)  # fmt: skip
    add_image(catalog, "board", "2", "2026-01-05T00:00:00Z", architectures=("arm64",),
              targets=("rcar_s4",), tags=("production", "nightly"), disk=True)  # fmt: skip
    add_image(catalog, "board", "3", "2026-01-09T00:00:00Z", architectures=("x86_64", "aarch64"),
              targets=("rcar_s4",), deprecated=True, disk=True)  # fmt: skip
    add_image(catalog, "devbox", "1.0", "2026-01-02T00:00:00Z", architectures=("x86_64",),
              distro="autosd9-sig", tags=("developer", "nightly"))  # fmt: skip
    add_image(catalog, "devbox", "1.1", "2026-01-06T00:00:00Z", architectures=("x86_64", "aarch64"),
              distro="autosd9-sig", tags=("developer",))  # fmt: skip
    add_image(catalog, "acrn-box", "5", "2026-01-04T00:00:00Z", architectures=("amd64",),
              distro="autosd", targets=("acrn",))  # fmt: skip
    add_image(catalog, "tie-b", "1", "2026-01-03T00:00:00Z", targets=("pc",))
    add_image(catalog, "tie-a", "1", "2026-01-03T00:00:00Z", targets=("pc",))
    build_from_scratch(catalog, root / "site")
    return root / "site"


def _ids(client: IndexClient, **filters: object) -> list[str]:
    result = client.query(Query(**filters))
    return [f"{s.name}@{s.version}" for s in result.images]


# --- filters and ordering ----------------------------------------------------------------------


def test_default_is_each_images_newest_version_newest_first(fleet_site: Path) -> None:
    client = IndexClient(fleet_site)
    assert _ids(client) == ["devbox@1.1", "board@2", "acrn-box@5", "tie-a@1", "tie-b@1"]


def test_all_versions_newest_first(fleet_site: Path) -> None:
    ids = _ids(IndexClient(fleet_site), all_versions=True)
    assert ids == [
        "devbox@1.1",
        "board@2",
        "acrn-box@5",
        "tie-a@1",
        "tie-b@1",
        "devbox@1.0",
        "board@1",
    ]
    with_deprecated = _ids(IndexClient(fleet_site), all_versions=True, include_deprecated=True)
    assert with_deprecated[0] == "board@3"
    assert len(with_deprecated) == 8


def test_deprecated_hidden_unless_asked(fleet_site: Path) -> None:
    client = IndexClient(fleet_site)
    assert "board@3" not in _ids(client)
    assert _ids(client, include_deprecated=True)[:2] == ["board@3", "devbox@1.1"]


def test_architecture_aliases_and_canonical_names_agree(fleet_site: Path) -> None:
    client = IndexClient(fleet_site)
    assert _ids(client, architecture="arm64") == _ids(client, architecture="aarch64")
    assert _ids(client, architecture="arm64") == ["devbox@1.1", "board@2"]
    assert _ids(client, architecture="amd64") == ["devbox@1.1", "acrn-box@5", "tie-a@1", "tie-b@1"]


def test_distro_alias_and_canonical_distro(fleet_site: Path) -> None:
    client = IndexClient(fleet_site)
    assert _ids(client, distro="autosd") == _ids(client, distro="autosd10")
    [acrn] = client.query(Query(distro="autosd", target="acrn")).images
    assert acrn.distro == "autosd10"
    assert acrn.distro_as_written == "autosd"


def test_filters_combine(fleet_site: Path) -> None:
    client = IndexClient(fleet_site)
    assert _ids(client, target="rcar_s4", architecture="arm64") == ["board@2"]
    assert _ids(client, target="rcar_s4", architecture="x86_64") == []
    assert _ids(client, distro="autosd9-sig", target="qemu") == ["devbox@1.1"]


def test_every_tag_must_match(fleet_site: Path) -> None:
    client = IndexClient(fleet_site)
    assert _ids(client, tags=("nightly",)) == ["board@2"]  # devbox's newest dropped the tag
    assert _ids(client, tags=("nightly",), all_versions=True) == ["board@2", "devbox@1.0"]
    assert _ids(client, tags=("production", "nightly")) == ["board@2"]
    assert _ids(client, tags=("production", "developer")) == []


def test_head_is_chosen_before_the_filters(fleet_site: Path) -> None:
    """With --include-deprecated board's head is v3 (x86_64 + aarch64), so an aarch64 query lists
    v3, and an x86_64 one lists it too; without it the head is v2, which has no x86_64."""
    client = IndexClient(fleet_site)
    assert "board@2" not in _ids(client, architecture="x86_64")
    assert "board@3" in _ids(client, architecture="x86_64", include_deprecated=True)
    assert _ids(client, target="rcar_s4", include_deprecated=True) == ["board@3"]
    assert _ids(client, target="rcar_s4") == ["board@2"]


def test_unknown_values_are_usage_errors(fleet_site: Path) -> None:
    client = IndexClient(fleet_site)
    with pytest.raises(UsageError, match=r"unknown architecture 'arm'; did you mean 'arm64'\?"):
        client.query(Query(architecture="arm"))
    with pytest.raises(UsageError, match="unknown target 'rpi5'; did you mean 'rpi4'"):
        client.query(Query(target="rpi5"))


def test_the_smallest_file_that_answers_is_read(fleet_site: Path) -> None:
    site = parser(SiteDoc)((fleet_site / "catalog.json").read_text(), "catalog.json")
    assert choose_file(Query(), site) == "latest.json"
    assert choose_file(Query(all_versions=True), site) == "index.json"
    assert choose_file(Query(target="acrn"), site) == "views/target/acrn/latest.json"
    # The target's view has fewer rows than the architecture's: it is the one read.
    query = Query(architecture="x86_64", target="acrn", all_versions=True)
    assert choose_file(query, site) == "views/target/acrn/all.json"
    # No all.json for architectures: every version of one architecture comes from index.json.
    assert choose_file(Query(architecture="x86_64", all_versions=True), site) == "index.json"


def test_tied_publication_times_fall_back_to_name(fleet_site: Path) -> None:
    ids = _ids(IndexClient(fleet_site), target="pc")
    assert ids == ["tie-a@1", "tie-b@1"]


# --- show --------------------------------------------------------------------------------------


def test_show_resolves_the_latest_version(fleet_site: Path) -> None:
    result = IndexClient(fleet_site).show("board")
    assert result.version.version == "2"
    assert result.latest == "2"
    assert result.versions == ["3", "2", "1"]


X86 = "71f1a2d3d3a97e925d85db22da2555b445d6004b08fe76e6fa42a0d961343394"
ARM = "b47036df3f8216900c50d19adcf21b0dc778e4fb7607590a3b4f31e041f5426b"


def test_show_multi_arch_variants_and_artifacts(
    shipped_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "cs9-qemu-qcow2", "--index", str(shipped_site)]) == 0
    out = capsys.readouterr().out
    host = "quay.io/automotive-images/cs9-qemu-qcow2"
    assert out.startswith("cs9-qemu-qcow2 20260122.0300: CentOS Stream 9 automotive QEMU image\n")
    assert "  distro         autosd9-latest-sig (written cs9)\n" in out
    assert "  targets        qemu (verified), pc\n" in out
    assert "  status         current (the latest version)\n" in out
    assert (
        "  ARCH     KIND  REFERENCE\n"
        f"  x86_64   disk  pull:            {host}@sha256:{X86}\n"
        f"                 flash (oci://):  oci://{host}@sha256:{X86}\n"
        f"  aarch64  disk  pull:            {host}@sha256:{ARM}\n"
        f"                 flash (oci://):  oci://{host}@sha256:{ARM}\n"
    ) in out
    assert (
        "  x86_64  cs9-qemu-x86_64.qcow2  (whole disk, qcow2; 2.0 GiB)\n"
        "    sha256  bef79b012beeb77fc6e72a49b75655dc0df108e33cb9de21cebcd0f25f67d087\n"
        "    url     https://quay.io/v2/automotive-images/cs9-qemu-qcow2/blobs/"
        "sha256:bef79b012beeb77fc6e72a49b75655dc0df108e33cb9de21cebcd0f25f67d087\n"
    ) in out
    assert "  aarch64  cs9-qemu-aarch64.qcow2  (whole disk, qcow2; 1.9 GiB)\n" in out


def test_show_container_and_disk_of_one_architecture(
    shipped_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "autosd9-rcar-s4", "--index", str(shipped_site), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(v["architecture"], v["kind"]) for v in doc["variants"]] == [
        ("aarch64", "container"),
        ("aarch64", "disk"),
    ]
    assert doc["variants"][1]["artifacts"][0]["sha256"].startswith("28754d14")
    assert doc["kind"] == "Version"


def test_show_a_deprecated_version(shipped_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "autosd10-rpi4@20260110.0812", "--index", str(shipped_site)]) == 0
    out = capsys.readouterr().out
    assert (
        "  status         deprecated on 2026-01-24: Kernel regression on 8 GB boards; use the "
        "newer build; superseded by autosd10-rpi4@20260124.0805\n"
    ) in out


def test_show_unknown_image_or_version(
    shipped_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "nope", "--index", str(shipped_site)]) == 1
    assert capsys.readouterr().err == f"error: no image 'nope' in the index at {shipped_site}\n"
    assert main(["show", "autosd10-rpi4@9", "--index", str(shipped_site)]) == 1
    assert capsys.readouterr().err == (
        f"error: no version '9' of autosd10-rpi4 in the index at {shipped_site} "
        "(versions: 20260124.0805, 20260110.0812)\n"
    )


@pytest.mark.parametrize("text", ["../etc/passwd", "Upper", "name@", "name@../x"])
def test_show_refuses_names_that_are_not_names(
    shipped_site: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", text, "--index", str(shipped_site)]) == 2
    assert capsys.readouterr().err.startswith("error: ")


# --- the command line ----------------------------------------------------------------------------


def test_query_table(shipped_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--index", str(shipped_site), "--arch", "amd64"]) == 0
    lines = capsys.readouterr().out.splitlines()
    headers = ["NAME", "VERSION", "DISTRO", "ARCH", "KIND", "TARGETS", "TAGS", "PUBLISHED"]
    assert lines[0].split() == headers
    assert lines[1].split() == [
        "cs9-qemu-qcow2",
        "20260122.0300",
        "autosd9-latest-sig",
        "x86_64,aarch64",
        "disk",
        "qemu*,pc",
        "developer,nightly",
        "2026-01-22",
        "03:20",
    ]
    # Aligned: every row starts its columns where the header does.
    starts = [lines[0].index(word) for word in ("VERSION", "DISTRO", "PUBLISHED")]
    for line in lines[1:-1]:
        assert all(line[s - 2 : s] == "  " for s in starts)
    assert lines[-1] == "(* verified on the board)"


def test_query_json(shipped_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--index", str(shipped_site), "--target", "rpi4", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["source"] == str(shipped_site / "views/target/rpi4/latest.json")
    [row] = doc["images"]
    assert row["name"] == "autosd10-rpi4"
    assert row["variants"][0]["oci"].startswith("oci://")


def test_query_reads_the_index_from_the_environment(
    shipped_site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMAGE_CATALOG_INDEX", str(shipped_site))
    assert main(["query", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == str(shipped_site / "latest.json")


def test_no_index_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--index", str(tmp_path / "none")]) == 2
    assert "no index here (build one with 'image-catalog index build" in capsys.readouterr().err
    assert main(["query", "--index", "ftp://example.com/"]) == 2


def test_empty_answer(shipped_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--index", str(shipped_site), "--target", "beagleplay"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("no image matches")


# --- bad index content -------------------------------------------------------------------------


def _copy_site(site: Path, into: Path) -> Path:
    import shutil

    shutil.copytree(site, into)
    return into


def test_truncated_json_is_a_clear_error(
    shipped_site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = _copy_site(shipped_site, tmp_path / "site")
    latest = site / "latest.json"
    latest.write_bytes(latest.read_bytes()[:100])
    assert main(["query", "--index", str(site)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {latest}: not valid JSON (")
    assert err.endswith("the file is truncated or corrupt: rebuild or republish the index\n")


def test_wrong_schema_version_is_a_clear_error(shipped_site: Path, tmp_path: Path) -> None:
    site = _copy_site(shipped_site, tmp_path / "site")
    doc = json.loads((site / "images/autosd10-acrn.json").read_text())
    doc["schemaVersion"] = 2
    (site / "images/autosd10-acrn.json").write_text(json.dumps(doc))
    with pytest.raises(CatalogError) as caught:
        IndexClient(site).show("autosd10-acrn")
    assert str(caught.value) == (
        f"{site}/images/autosd10-acrn.json: schemaVersion 2 is not supported (this image-catalog "
        "reads schemaVersion 1): upgrade image-catalog"
    )


def test_wrong_document_shape_is_a_clear_error(shipped_site: Path, tmp_path: Path) -> None:
    site = _copy_site(shipped_site, tmp_path / "site")
    (site / "latest.json").write_text('{"schemaVersion": 1, "kind": "View", "versions": "latest"}')
    with pytest.raises(CatalogError, match="not a valid View document: images: Field required"):
        IndexClient(site).query(Query())
    (site / "latest.json").write_text('{"schemaVersion": 1, "kind": "Image"}')
    with pytest.raises(CatalogError, match="a document of kind 'Image' where kind 'View' belongs"):
        IndexClient(site).query(Query())


# --- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def server(shipped_site: Path, tmp_path: Path) -> Iterator[SiteServer]:
    with serve_copy(shipped_site, tmp_path / "served") as running:
        yield running


def test_second_fetch_is_a_304(server: SiteServer, tmp_path: Path) -> None:
    client = IndexClient(server.url, cache_dir=tmp_path / "cache", max_age=0)
    first = client.query(Query(target="rpi4"))
    second = client.query(Query(target="rpi4"))
    assert [s.version for s in first.images] == [s.version for s in second.images]
    view = "views/target/rpi4/latest.json"
    assert server.count(view, 200) == 1
    assert server.count(view, 304) == 1
    assert server.count("catalog.json", 304) == 1
    # The smallest files answer: never index.json or latest.json.
    assert set(server.paths()) == {"catalog.json", view}
    assert server.requests[-1]["If-None-Match"].startswith('"')
    assert second.warnings == []


def test_if_modified_since_without_etags(shipped_site: Path, tmp_path: Path) -> None:
    with serve_copy(shipped_site, tmp_path / "served", etags=False) as plain:
        client = IndexClient(plain.url, cache_dir=tmp_path / "cache", max_age=0)
        client.show("autosd10-rpi4")
        client.show("autosd10-rpi4")
        assert plain.count("images/autosd10-rpi4.json", 200) == 1
        assert plain.count("images/autosd10-rpi4.json", 304) == 1
        assert "If-None-Match" not in plain.requests[-1]
        assert "GMT" in plain.requests[-1]["If-Modified-Since"]


def test_changed_file_is_downloaded_again(server: SiteServer, tmp_path: Path) -> None:
    client = IndexClient(server.url, cache_dir=tmp_path / "cache", max_age=0)
    client.query(Query())
    catalog = new_catalog(tmp_path / "catalog2")
    add_image(catalog, "only", "1", "2026-05-01T00:00:00Z")
    build_from_scratch(catalog, server.root)  # the served folder is replaced by a new site
    assert [s.name for s in client.query(Query()).images] == ["only"]
    assert server.count("latest.json", 200) == 2


def test_gzip_is_used_when_offered(server: SiteServer, tmp_path: Path) -> None:
    client = IndexClient(server.url, cache_dir=tmp_path / "cache")
    rows = client.query(Query(all_versions=True, include_deprecated=True)).images
    assert len(rows) == 8
    assert server.count("index.json", 200) == 1
    assert server.requests[-1]["Accept-Encoding"] == "gzip"
    # The cache holds the decoded document, so the 304 path serves it too.
    assert len(client.query(Query(all_versions=True, include_deprecated=True)).images) == 8


def test_stale_cache_is_used_when_the_server_is_down(server: SiteServer, tmp_path: Path) -> None:
    now = time.time()
    clock = [now]
    client = IndexClient(server.url, cache_dir=tmp_path / "cache", clock=lambda: clock[0])
    fresh = client.query(Query(architecture="arm64"))
    server.stop()
    clock[0] = now + 3 * 3600 + 12 * 60
    result = client.query(Query(architecture="arm64"))
    assert result.images == fresh.images
    assert len(result.warnings) == 2  # catalog.json and the view
    assert result.warnings[0].startswith(
        f"{server.url}catalog.json: the index server is unreachable"
    )
    assert result.warnings[0].endswith("; using the copy cached 3 h 12 min ago")


def test_server_errors(server: SiteServer, tmp_path: Path) -> None:
    client = IndexClient(server.url, cache_dir=tmp_path / "cache", max_age=0)
    client.show("autosd10-acrn")
    server.fail_with = 503  # overloaded: the cached copy stands in
    result = client.show("autosd10-acrn")
    assert result.version.name == "autosd10-acrn"
    assert "the index server is unreachable (HTTP 503 Service Unavailable)" in result.warnings[0]
    server.fail_with = 403  # refused: no stale answer, a retryable failure
    with pytest.raises(RegistryUnavailable, match=r"refused access \(HTTP 403\)"):
        client.show("autosd10-acrn")


def test_server_down_without_cache(
    server: SiteServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.stop()
    assert main(["query", "--index", server.url]) == 4
    err = capsys.readouterr().err
    assert err.startswith(f"error: {server.url}latest.json: the index server is unreachable (")
    assert err.endswith("and there is no cached copy; retry when it is back\n")
    with pytest.raises(RegistryUnavailable):
        IndexClient(server.url, cache_dir=tmp_path / "cache").show("autosd10-rpi4")


def test_cli_warns_with_the_age_of_a_stale_copy(
    server: SiteServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "autosd10-acrn", "--index", server.url]) == 0
    server.stop()
    capsys.readouterr()
    assert main(["show", "autosd10-acrn", "--index", server.url]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("autosd10-acrn 1.2.0: ")
    assert captured.err.startswith(
        f"warning: {server.url}images/autosd10-acrn.json: the index server is unreachable"
    )
    assert re.search(r"; using the copy cached [0-9]+ s ago\n$", captured.err)


def test_bad_content_over_http_is_not_cached(
    server: SiteServer, shipped_site: Path, tmp_path: Path
) -> None:
    latest = server.root / "latest.json"
    good = latest.read_bytes()
    latest.write_bytes(good[: len(good) // 2])
    (server.root / "latest.json.gz").unlink()
    client = IndexClient(server.url, cache_dir=tmp_path / "cache")
    with pytest.raises(CatalogError, match=r"latest.json: not valid JSON"):
        client.query(Query())
    latest.write_bytes(good)
    assert client.query(Query()).images == IndexClient(shipped_site).query(Query()).images
    assert "If-None-Match" not in server.requests[-1]  # nothing bad was kept to revalidate


def test_missing_file_over_http(server: SiteServer, tmp_path: Path) -> None:
    client = IndexClient(server.url, cache_dir=tmp_path / "cache")
    with pytest.raises(NotInIndex, match=r"no image 'ghost' in the index at http://127\.0\.0\.1:"):
        client.show("ghost")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5 s"),
        (300, "5 min"),
        (3 * 3600, "3 h"),
        (3 * 3600 + 60, "3 h 1 min"),
        (3 * 86400, "3 days"),
    ],
)
def test_describe_age(seconds: int, text: str) -> None:
    assert describe_age(seconds) == text


def test_view_model_is_what_the_views_hold(fleet_site: Path) -> None:
    view = parser(ViewDoc)((fleet_site / "views/target/rcar_s4/latest.json").read_text(), "x")
    assert (view.by, view.value, view.versions) == ("target", "rcar_s4", "latest")
    assert [s.version for s in view.images] == ["3", "2"]


@pytest.mark.parametrize(
    "query",
    [Query(), Query(all_versions=True), Query(target="rcar_s4", include_deprecated=True)],
    ids=["latest", "all-versions", "view"],
)
def test_rows_for_programs_are_the_rows_encoded(fleet_site: Path, query: Query) -> None:
    """query --json passes each row through as the site has it: the same bytes encoding gives."""
    result = IndexClient(fleet_site).query(query)
    assert result.images
    assert [bytes(r) for r in result.encoded_images()] == [encode(s) for s in result.images]
    # A result made by hand (no file behind it) encodes its rows.
    by_hand = QueryResult(result.images)
    assert [bytes(r) for r in by_hand.encoded_images()] == [encode(s) for s in result.images]
