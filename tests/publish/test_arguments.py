"""publish checks every argument before it asks a registry anything.

The registry here is a loopback port nothing listens on: an argument that reached the registry
would end as "unreachable" (exit 4); every case must end as a usage error (exit 2) instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from image_catalog.cli import main
from support.catalogs import empty_catalog, registry_manifest

NOBODY = "127.0.0.1:9"  # the discard port: nothing answers there on a test machine
REF = f"{NOBODY}/vendor/image:1.0"


@pytest.fixture
def unreachable_catalog(tmp_path: Path) -> Path:
    return empty_catalog(tmp_path / "catalog", {"local": registry_manifest("local", NOBODY)})


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--name", "../escape"],
            "--name '../escape' is not a DNS-1123 label (lowercase letters, digits and '-', at "
            "most 63 characters)",
        ),
        (
            ["--name", "/abs"],
            "--name '/abs' is not a DNS-1123 label (lowercase letters, digits and '-', at most 63 "
            "characters)",
        ),
        (
            ["--name", "a" * 300],
            f"--name '{'a' * 77}...' is not a DNS-1123 label (lowercase letters, digits and '-', "
            "at most 63 characters)",
        ),
        (
            ["--version", "1.0\n"],
            "--version '1.0\\n' is not a version token (letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, at most 64 characters)",
        ),
        (
            ["--version=--force"],
            "--version '--force' is not a version token (letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, at most 64 characters)",
        ),
        (
            ["--branch=-D"],
            "--branch '-D' is not a branch name (letters, digits, '.', '_', '-' and '/', not "
            "starting with '-')",
        ),
        (
            ["--branch", "a..b"],
            "--branch 'a..b' is not a branch name (letters, digits, '.', '_', '-' and '/', not "
            "starting with '-')",
        ),
        (
            ["--tag", "night ly"],
            "--tag 'night ly' is not a vocabulary word (lowercase letters, digits, '.', '_' and "
            "'-')",
        ),
        (
            ["--display-name", "ok\u202eevil"],
            "--display-name 'ok\\u202eevil' is not one line of text (at most 200 characters, no "
            "control or bidi characters)",
        ),
        (
            ["--distro=--privileged"],
            "--distro '--privileged' is not a vocabulary word (lowercase letters, digits, '.', "
            "'_' and '-')",
        ),
        (
            ["--target", "qemu", "--target", "x y", "--arch=-"],
            "--target 'x y' is not a vocabulary word (lowercase letters, digits, '.', '_' and "
            "'-'); --arch '-' is not a vocabulary word (lowercase letters, digits, '.', '_' and "
            "'-')",
        ),
    ],
)
def test_bad_arguments_are_refused_before_any_registry_call(
    unreachable_catalog: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    args = ["publish", "image", REF, "--catalog", str(unreachable_catalog), *arguments]
    assert main(args) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


@pytest.mark.parametrize("ref", [f"{REF}\n", f" {REF}", f"{REF} --tls-verify=false", "-x"])
def test_odd_references_are_refused_before_any_registry_call(
    unreachable_catalog: Path, capsys: pytest.CaptureFixture[str], ref: str
) -> None:
    assert main(["publish", "image", "--catalog", str(unreachable_catalog), "--", ref]) == 2
    assert capsys.readouterr().err == (
        f"error: {ref!r} is not a registry reference of the form "
        "HOST/REPOSITORY[:TAG][@sha256:DIGEST] (the host must be explicit)\n"
    )


@pytest.mark.parametrize(
    "author",
    [
        "Eve <eve@example.com>\ncommitter Mallory <m@example.com> 0 +0000",
        "Eve\x1b[2K <eve@example.com>",
        "Eve <eve @example.com>",
        "Eve <>",
    ],
)
def test_an_author_that_is_not_one_plain_identity_is_refused(
    unreachable_catalog: Path, capsys: pytest.CaptureFixture[str], author: str
) -> None:
    args = ["publish", "image", REF, "--catalog", str(unreachable_catalog), "--author", author]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"error: {author!r} is not an identity of the form 'Name <email>'\n"
    )
