"""What `query --json` writes, byte for byte, for every form of query.

The answer is `{"images":[ROW,...],"source":"FILE"}` (keys sorted, compact, one line), each ROW the
text of that row in the file it was read from, as it is there: the bytes stay what encoding the
answer gave, however the output is written (to a file, a pipe, a stream in memory).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest
from image_catalog.build.render import build_from_scratch
from image_catalog.cli import main
from image_catalog.cli.query_cmd import terminal_json, write_all
from image_catalog.reader.client import IndexClient, Query
from image_catalog.site.contract import encode


class _Rows(msgspec.Struct):
    images: list[msgspec.Raw]


@pytest.fixture(scope="module")
def sites(shipped_site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The shipped catalog's site as built, and the same index written by other hands: indented,
    with a deprecated version, a field this reader does not know and text to escape."""
    built = shipped_site
    other = tmp_path_factory.mktemp("output") / "other"
    other.mkdir()
    # Copies, not links: the reader follows no link inside a site.
    shutil.copy(built / "catalog.json", other)
    shutil.copy(built / "latest.json", other)
    shutil.copytree(built / "views", other / "views")
    index = json.loads((built / "index.json").read_bytes())
    index["images"][0]["displayName"] = 'Ünïcode \u202e "quoted" \\ back'
    index["images"][1]["deprecated"] = True
    index["images"][2]["notKnown"] = [{"a": 1}, {"architectures": []}]
    (other / "index.json").write_text(json.dumps(index, indent=3), encoding="utf-8")
    return {"built": built, "other": other}


FORMS: list[tuple[list[str], Query]] = [
    ([], Query()),
    (["--all-versions"], Query(all_versions=True)),
    (["--all-versions", "--include-deprecated"], Query(all_versions=True, include_deprecated=True)),
    (["--target", "rpi4", "--all-versions"], Query(target="rpi4", all_versions=True)),
    (["--arch", "arm64"], Query(architecture="arm64")),
    (["--tag", "production", "--all-versions"], Query(tags=("production",), all_versions=True)),
    (["--target", "beagleplay"], Query(target="beagleplay")),  # no row
]


class _Id(msgspec.Struct):
    name: str
    version: str


class _Ids(msgspec.Struct):
    images: list[_Id]


def _expected(site: Path, query: Query) -> bytes:
    """The answer as encoding gives it, each row taken from its file independently of the reader."""
    result = IndexClient(site).query(query)
    data = Path(result.source).read_bytes()
    ids = msgspec.json.decode(data, type=_Ids).images
    rows = msgspec.json.decode(data, type=_Rows).images
    by_id = {(i.name, i.version): row for i, row in zip(ids, rows, strict=True)}
    chosen = [by_id[(s.name, s.version)] for s in result.images]
    return encode({"source": result.source, "images": chosen}) + b"\n"


@pytest.mark.parametrize("which", ["built", "other"])
@pytest.mark.parametrize(("args", "query"), FORMS, ids=[" ".join(f[0]) or "-" for f in FORMS])
def test_query_json_writes_the_answer_as_encoded(
    sites: dict[str, Path],
    which: str,
    args: list[str],
    query: Query,
    capfd: pytest.CaptureFixture[str],
) -> None:
    site = sites[which]
    expected = _expected(site, query)
    assert main(["query", "--index", str(site), *args, "--json"]) == 0
    captured = capfd.readouterr()
    assert captured.out.encode("utf-8") == expected
    assert captured.err == ""


def test_a_stream_in_memory_gets_the_same_bytes(
    sites: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    site = sites["other"]
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["query", "--index", str(site), "--all-versions", "--json"]) == 0
    out.flush()
    assert isinstance(out.buffer, io.BytesIO)
    assert out.buffer.getvalue() == _expected(site, Query(all_versions=True))


@pytest.mark.parametrize("which", ["built", "other"])
def test_the_program_writes_the_same_bytes_to_a_pipe_and_a_file(
    sites: dict[str, Path], which: str, tmp_path: Path
) -> None:
    site = sites[which]
    command = [sys.executable, "-m", "image_catalog", "query", "--index", str(site)]
    command += ["--all-versions", "--json"]
    piped = subprocess.run(command, capture_output=True, check=True)
    with (tmp_path / "out.json").open("wb") as file:
        subprocess.run(command, stdout=file, check=True)
    expected = _expected(site, Query(all_versions=True))
    assert piped.stdout == expected
    assert (tmp_path / "out.json").read_bytes() == expected
    assert piped.stderr == b""


@pytest.mark.parametrize("most", [1, 7, 1000, 10**9])
def test_short_writes_are_continued(most: int) -> None:
    """A write may take fewer bytes than given (a signal, a full pipe): the rest follows."""
    parts: list[bytes | memoryview] = [b"x" * (i % 5) + str(i).encode() for i in range(2500)]
    expected = b"".join(parts)
    sink = bytearray()
    calls: list[int] = []

    def writev(fd: int, buffers: Sequence[bytes | memoryview]) -> int:
        assert fd == 9
        calls.append(len(buffers))
        data = b"".join(buffers)[:most]
        sink.extend(data)
        return len(data)

    write_all(writev, 9, list(parts))
    assert bytes(sink) == expected
    assert max(calls) <= 1024


def test_json_for_a_terminal_escapes_what_a_terminal_would_act_on() -> None:
    data = encode({"name": "a\x85\x9b2J\u202eb\u2066\x7fc\x1b", "plain": "é 中"})
    shown = terminal_json(data)
    assert shown == (
        b'{"name":"a\\u0085\\u009b2J\\u202eb\\u2066\\u007fc\\u001b",'
        b'"plain":"\xc3\xa9 \xe4\xb8\xad"}'
    )
    assert json.loads(shown) == json.loads(data)
    assert terminal_json(b'{"a":"plain"}') == b'{"a":"plain"}'


# --- text: what a person reads --------------------------------------------------------------------


def test_the_table_says_what_each_version_holds(
    shipped_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", "--index", str(shipped_site)]) == 0
    lines = capsys.readouterr().out.splitlines()
    kinds = {line.split()[0]: line.split()[4] for line in lines[1:-1]}
    assert lines[0].split()[3:5] == ["ARCH", "KIND"]
    assert kinds == {
        "autosd10-rpi4": "disk",
        "cs9-qemu-qcow2": "disk",
        "rhivos-ride4-sa8775p": "disk",
        "autosd9-rcar-s4": "both",
        "autosd9-qemu-bootc": "container",
        "autosd10-acrn": "container",
        "autosd9-am69sk": "disk",
    }


def test_show_gives_both_references_and_which_tool_takes_which(
    shipped_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "autosd9-rcar-s4", "--index", str(shipped_site)]) == 0
    out = capsys.readouterr().out
    host = "default-route-openshift-image-registry.apps.build.example.com/automotive-builds"
    container = "sha256:5655e1c442d0daa12af9239cd8e90d6d7511717cb6aee25a91c171ebe11b224a"
    disk = "sha256:a4a35ab60bec7bf2965216efe4b484d8dc7f648c535cba65ac724f040d208b7f"
    assert (
        "variants\n"
        "  ARCH     KIND       REFERENCE\n"
        f"  aarch64  container  pull:            {host}/autosd9-rcar-s4@{container}\n"
        f"                      flash (oci://):  oci://{host}/autosd9-rcar-s4@{container}\n"
        f"  aarch64  disk       pull:            {host}/autosd9-rcar-s4-disk@{disk}\n"
        f"                      flash (oci://):  oci://{host}/autosd9-rcar-s4-disk@{disk}\n"
        "  pull: podman pull REF (a container), oras pull REF, skopeo copy docker://REF "
        "(to skopeo\n  oci: is a local folder); flash (oci://): j storage flash oci://REF "
        "(Jumpstarter)\n"
    ) in out
    assert "  build          bootc, raw\n" in out
    assert (
        "  built with     AIB quay.io/centos-sig-automotive/automotive-image-builder:1.0.0, " in out
    )


def test_show_says_where_a_prebuilt_disk_came_from_instead_of_a_dash(
    catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # What `publish image` writes for a disk artifact without AIB's export-format annotation.
    entry = catalog_dir / "images/autosd9-am69sk/9.4.1.yaml"
    text = entry.read_text()
    entry.write_text(text.replace("  buildMode: image\n", "").replace("  exportFormat: raw\n", ""))
    build_from_scratch(catalog_dir, tmp_path / "site")
    assert main(["show", "autosd9-am69sk", "--index", str(tmp_path / "site")]) == 0
    summary = capsys.readouterr().out.split("\nvariants\n")[0]
    assert (
        "  source         prebuilt: Texas Instruments Processor SDK for AutoSD, release 9.4.1\n"
        in (summary)
    )
    assert " -\n" not in summary.replace("  tags           -\n", "")
    assert "build" not in summary
