"""Documents that decode but could not be used: JSON nested thousands of levels deep, times on the
calendar's edge, and text holding control characters, each run as the command itself.

Every site document and status is read through `site.parse`: deep nesting and times outside the
years 1970 to 9998 are refused there (exit 1, naming the file), wherever the document comes from
(a site folder, a previous status, a shard, a status to publish). What a document says is printed
escaped, on a terminal too.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from image_catalog.build.render import build_from_scratch
from image_catalog.site import contract
from image_catalog.site.contract import EntryHealth, Figures, StatusDoc
from support.confined import RAW_CONTROL, assert_refused, run_confined
from support.site import add_image, new_catalog

EDGE = "9999-12-31T23:00:00-23:59"  # RFC 3339, but past year 9999 once in UTC
NORMAL = "2026-03-01T10:00:00Z"
RANGE = "(a site's times fall within the years 1970 to 9998)"
DEEP = "nested deeper than a site document can be"


def _deep(kind: str) -> str:
    return f'{{"schemaVersion":1,"kind":"{kind}","x":' + "[" * 3000 + "]" * 3000 + "}"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site of one image, box@1, built from a catalog beside it (tmp_path / "catalog")."""
    catalog = new_catalog(tmp_path / "catalog")
    add_image(catalog, "box", "1", "2026-01-01T00:00:00Z")
    build_from_scratch(catalog, tmp_path / "site")
    return tmp_path / "site"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"IMAGE_CATALOG_CACHE_DIR": str(tmp_path / "cache")}


def _status(since: str) -> bytes:
    entry = EntryHealth(
        name="box",
        version="1",
        state="available",
        since=msgspec.json.decode(json.dumps(NORMAL), type=contract.Time),
        observed="available",
        consecutive_failures=0,
    )
    doc = StatusDoc(
        schema_version=contract.SCHEMA_VERSION,
        checked_at=entry.since,
        fail_after=3,
        catalog_entries=1,
        figures=Figures(entries=1, states={"available": 1}),
        entries=[entry],
    )
    text = contract.encode(doc).decode()
    return text.replace(f'"since":"{NORMAL}"', f'"since":"{since}"').encode()


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- nesting ------------------------------------------------------------------------------------


def test_a_deep_site_document_is_refused_naming_it(site: Path, env: dict[str, str]) -> None:
    (site / "catalog.json").write_text(_deep("Site"))
    outcome = run_confined(["query", "--index", str(site), "--arch", "x86_64"], env=env)
    assert_refused(outcome, 1, f"error: {site / 'catalog.json'}: {DEEP}")


def test_a_deep_previous_status_is_refused_naming_it(tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "catalog")
    previous = tmp_path / "previous.json"
    previous.write_text(_deep("Status"))
    outcome = run_confined(["check", "--catalog", str(catalog), "--previous", str(previous)])
    assert_refused(outcome, 1, f"error: {previous}: {DEEP}")


def test_a_deep_shard_is_refused_by_merge(tmp_path: Path) -> None:
    shard = tmp_path / "shard.json"
    shard.write_text(_deep("Status"))
    outcome = run_confined(["check", "merge", str(shard), "--out", str(tmp_path / "m.json")])
    assert_refused(outcome, 1, f"error: {shard}: {DEEP}")
    assert not (tmp_path / "m.json").exists()


# --- times --------------------------------------------------------------------------------------


def test_a_status_with_a_time_past_utc_is_not_published(site: Path, tmp_path: Path) -> None:
    status = tmp_path / "status.json"
    status.write_bytes(_status(EDGE))
    out = tmp_path / "out"
    args = ["index", "build", "--catalog", str(tmp_path / "catalog"), "--out", str(out)]
    outcome = run_confined([*args, "--status", str(status)])
    assert_refused(
        outcome,
        1,
        f"error: {status}: not a valid Status document: entries[0].since: {EDGE} is out of "
        f"range {RANGE}",
    )
    assert not out.exists()


def test_a_version_with_a_time_past_utc_is_refused_by_show(site: Path, env: dict[str, str]) -> None:
    document = site / "images" / "box" / "1.json"
    _edit(document, '"publishedAt":"2026-01-01T00:00:00Z"', f'"publishedAt":"{EDGE}"')
    outcome = run_confined(["show", "box@1", "--index", str(site)], env=env)
    assert_refused(
        outcome,
        1,
        f"error: {document}: not a valid Version document: publishedAt: {EDGE} is out of "
        f"range {RANGE}",
    )


# --- control characters -------------------------------------------------------------------------


def test_versions_named_in_an_error_are_escaped(site: Path, env: dict[str, str]) -> None:
    _edit(site / "images" / "box.json", '"version":"1"', '"version":"1\\u001b]0;owned\\u0007"')
    outcome = run_confined(["show", "box@2", "--index", str(site)], env=env)
    assert_refused(outcome, 1, "(versions: 1\\x1b]0;owned\\x07)")


def test_vocabulary_named_in_a_usage_error_is_escaped(site: Path, env: dict[str, str]) -> None:
    _edit(site / "catalog.json", '"architectures":["', '"architectures":["x\\u009b31m\\u202e", "')
    outcome = run_confined(["query", "--index", str(site), "--arch", "sparc"], env=env)
    assert_refused(outcome, 2, "(known: x\\x9b31m\\u202e, ")


def test_an_imagebuild_name_in_an_error_is_escaped(tmp_path: Path) -> None:
    build = tmp_path / "build.json"
    build.write_text(
        json.dumps(
            {
                "apiVersion": "automotive.sdv.cloud.redhat.com/v1alpha1",
                "kind": "ImageBuild",
                "metadata": {"name": "b\u001b[2J\u0085", "namespace": "ns\u202e"},
                "status": {"phase": "Running"},
            }
        )
    )
    catalog = new_catalog(tmp_path / "catalog")
    outcome = run_confined(["publish", "imagebuild", str(build), "--catalog", str(catalog)])
    assert_refused(
        outcome,
        1,
        f"error: {build}: ImageBuild ns\\u202e/b\\x1b[2J\\x85 is in phase 'Running'; only a "
        "Completed build can be published",
    )


def _on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    """`image-catalog ARGS` with standard output a terminal (a pty): exit code and the bytes."""
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "image_catalog", *args],
        stdout=follower,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
    ) as child:
        os.close(follower)
        output = b""
        while True:
            ready, _, _ = select.select([leader], [], [], 30)
            assert ready, "show --json on a terminal did not finish"
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        os.close(leader)
        assert child.stderr is not None
        err = child.stderr.read()
        code = child.wait(timeout=30)
    assert b"Traceback" not in err, err
    return code, output


def test_show_json_on_a_terminal_escapes_c1_and_bidi(site: Path, env: dict[str, str]) -> None:
    _edit(
        site / "images" / "box" / "1.json",
        '"displayName":"box 1"',
        '"displayName":"a\u0085\u009b2J\u202eb\u2066"',
    )
    code, output = _on_a_terminal(["show", "box@1", "--json", "--index", str(site)], env)
    text = output.decode("utf-8")
    assert code == 0, text
    raw = RAW_CONTROL.search(text.replace("\r\n", "\n"))
    assert raw is None, f"a raw control character {raw.group()!r} was printed:\n{text!r}"
    assert '"displayName": "a\\u0085\\u009b2J\\u202eb\\u2066"' in text
