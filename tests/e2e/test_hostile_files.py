"""Files a pull request can bring that are not catalog files: links, devices, FIFOs, odd names.

The example corpus (`tests/examples/invalid/*link*`, `*fifo*`) pins each message; these tests run
the command itself, in a child process with a deadline, because the failure they guard against is
a reader that never returns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from image_catalog.build.render import build_from_scratch
from image_catalog.cli import main
from image_catalog.fsutil import NotAFile, read_regular_file
from support.catalogs import empty_catalog, fake_digest, image_document, registry_manifest
from support.confined import assert_refused, run_confined
from support.entries import write_document
from support.examples import Example, read_example
from support.paths import EXAMPLES, SHIPPED_CATALOG

# Generous: validating the shipped catalog takes about a second; a hang never ends.
DEADLINE = 120
LINK = "links are not followed: put the file or folder itself here"


def _validate(catalog: Path) -> subprocess.CompletedProcess[str]:
    assert catalog.name == "catalog"
    return subprocess.run(
        [sys.executable, "-m", "image_catalog", "validate", "--catalog", catalog.name],
        cwd=catalog.parent,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


def _replace_with_link(path: Path, target: str | Path) -> None:
    path.unlink()
    path.symlink_to(target)


def test_validate_ends_and_reports_links_devices_and_fifos(catalog_dir: Path) -> None:
    _replace_with_link(catalog_dir / "vocabulary.yaml", "/dev/zero")
    _replace_with_link(catalog_dir / "registries" / "quay-automotive.yaml", "/dev/urandom")
    fifo = catalog_dir / "images" / "autosd10-acrn" / "1.2.0.yaml"
    fifo.unlink()
    os.mkfifo(fifo)
    outside = catalog_dir.parent / "outside"
    (catalog_dir / "images" / "autosd9-am69sk").rename(outside)
    (catalog_dir / "images" / "autosd9-am69sk").symlink_to(outside)
    done = _validate(catalog_dir)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == [
        "catalog/images/autosd10-acrn/1.2.0.yaml: is a FIFO (named pipe), not a regular file",
        f"catalog/images/autosd9-am69sk: is a symbolic link to '{outside}'; {LINK}",
    ]
    assert (
        f"catalog/registries/quay-automotive.yaml: is a symbolic link to '/dev/urandom'; {LINK}"
        in lines
    )
    assert f"catalog/vocabulary.yaml: is a symbolic link to '/dev/zero'; {LINK}" in lines


def test_a_newline_in_a_file_name_cannot_forge_a_line(catalog_dir: Path) -> None:
    forged = "catalog: the catalog is valid (7 images, 2 registries, offline checks)"
    folder = catalog_dir / "images" / f"x\n{forged}\n\x1b[2K"
    folder.mkdir()
    (folder / "1.0.yaml").write_text("a: 1\n")
    done = _validate(catalog_dir)
    assert done.returncode == 1
    assert forged not in done.stdout.splitlines()
    assert "\x1b" not in done.stdout
    assert f"catalog/images/x\\n{forged}\\n\\x1b[2K: the name 'x\\n" in done.stdout


def test_read_regular_file_bounds_the_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a" * 101)
    with pytest.raises(NotAFile, match="file is 101 bytes; the limit is 100 bytes"):
        read_regular_file(path, 100)
    assert read_regular_file(path, 101) == b"a" * 101


def test_show_escapes_what_the_index_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    build_from_scratch(SHIPPED_CATALOG, site)
    hostile = json.dumps("AutoSD \x1b[2J\u202eevil\nforged: line")
    for path in site.rglob("*.json"):
        path.write_text(path.read_text().replace('"AutoSD 10 ACRN guest"', hostile))
    assert main(["show", "autosd10-acrn", "--index", str(site)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ("autosd10-acrn 1.2.0: AutoSD \\x1b[2J\\u202eevil\\nforged: line")


@pytest.mark.parametrize("entry", ["autosd10-acrn\n", "autosd10-acrn@1.2.0\n--all"])
def test_audit_refuses_an_entry_with_a_line_break(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: str
) -> None:
    assert main(["audit", entry, "--catalog", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: {entry!r} is not NAME or NAME@VERSION\n"


def test_publish_reads_no_more_of_stdin_than_a_file_may_hold(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "image_catalog", "publish", "imagebuild", "-"],
        cwd=tmp_path,
        input=b"a: " + b"x" * (2 * 1024 * 1024) + b"\n",
        capture_output=True,
        timeout=DEADLINE,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.decode() == (
        "error: <stdin>: input is 1048577 bytes; catalog files are limited to 1048576\n"
    )


@pytest.mark.parametrize(
    ("auth", "extra", "expected"),
    [
        (
            {"method": "serviceAccountToken", "tokenPath": "/dev/zero"},
            "",
            "spec.auth.tokenPath: the service-account token file /dev/zero of registry local "
            "(127.0.0.1:9) cannot be used (is a character device, not a regular file)",
        ),
        (
            {"method": "authFile", "path": "/dev/zero"},
            "",
            "spec.auth.path: the auth file /dev/zero of registry local (127.0.0.1:9) cannot be "
            "used (is a character device, not a regular file)",
        ),
        (None, "  caFile: /dev/zero\n", "the CA file /dev/zero of "),
    ],
)
def test_credential_paths_at_a_device_are_refused_not_read(
    tmp_path: Path, auth: dict[str, str] | None, extra: str, expected: str
) -> None:
    catalog = tmp_path / "catalog"
    registry = registry_manifest("local", "127.0.0.1:9", auth) + extra
    empty_catalog(catalog, {"local": registry})
    image = read_example(EXAMPLES / "valid" / "autosd9-qemu-1.0.yaml")
    body = image.body.replace(b"quay.io/", b"127.0.0.1:9/")
    Example(image.name, image.place, body, ()).install(catalog)
    done = subprocess.run(
        [sys.executable, "-m", "image_catalog", "validate", "--online", "--catalog", "catalog"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    # The machine is wrong, not the registry: no retry helps. A problem of the declaration.
    assert done.returncode == 1, done.stdout + done.stderr
    assert expected in done.stdout
    assert "catalog/registries/local.yaml:" in done.stdout


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("/dev/zero", "is a character device, not a regular file"),
        ("not-a-build.yaml", "not an ImageBuild resource (kind 'Registry'"),
    ],
)
def test_publish_follows_a_link_named_on_the_command_line_to_a_regular_file_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, message: str
) -> None:
    (tmp_path / "not-a-build.yaml").write_text(registry_manifest("local", "127.0.0.1:9"))
    (tmp_path / "build.yaml").symlink_to(target)
    assert main(["publish", "imagebuild", str(tmp_path / "build.yaml")]) == 1
    assert message in capsys.readouterr().err


def test_versions_that_differ_only_by_case_are_refused_and_not_published(
    catalog_dir: Path,
) -> None:
    for version in ("1.0A", "1.0a"):
        write_document(
            catalog_dir, "demo", version, image_document("demo", version, fake_digest(version))
        )
    problem = (
        "catalog/images/demo/1.0a.yaml:6:3: metadata.version: differs from 1.0A only by case "
        "(they collide on case-insensitive file systems)"
    )
    validated = run_confined(["validate", "--catalog", "catalog"], cwd=catalog_dir.parent)
    assert_refused(validated, 1, problem)
    built = run_confined(
        ["index", "build", "--catalog", "catalog", "--out", "site"], cwd=catalog_dir.parent
    )
    assert_refused(
        built,
        1,
        "error: refusing to build the index: the catalog in catalog has 1 problem; fix them "
        f"first:\n  {problem}\n",
    )
    assert not (catalog_dir.parent / "site").exists()
