"""The command line: exit codes, output formats and messages, run as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from image_catalog.cli import main
from support.paths import REPO

BAD_ARCH = "spec.variants[1].architecture: 'arm' is not a known architecture"


def _break_architecture(catalog: Path) -> Path:
    entry = catalog / "images/autosd9-qemu-bootc/2026.01.15.yaml"
    text = entry.read_text()
    entry.write_text(text.replace("architecture: aarch64", "architecture: arm"))
    return entry


def test_shipped_catalog_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--catalog", str(REPO / "catalog")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{REPO / 'catalog'}: the catalog is valid (")
    assert "offline checks" in out


def test_text_report_names_file_line_and_field(
    catalog_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _break_architecture(catalog_dir)
    (catalog_dir / "images/autosd10-acrn/1.2.0.yaml").write_text("a: [\n")
    assert main(["validate", "--catalog", str(catalog_dir)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{catalog_dir}/images/autosd10-acrn/1.2.0.yaml:2:1: YAML syntax")
    assert lines[1] == (
        f"{catalog_dir}/images/autosd9-qemu-bootc/2026.01.15.yaml:36:7: {BAD_ARCH} "
        "(known: x86_64, aarch64; aliases: amd64, arm64)"
    )
    assert (
        lines[2] == f"{catalog_dir}: 2 problems in 2 files (6 images, 2 registries, offline checks)"
    )


def test_json_report(catalog_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _break_architecture(catalog_dir)
    assert main(["validate", "--catalog", str(catalog_dir), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert report["counts"] == {
        "images": 7,
        "registries": 2,
        "files": 11,
        "errors": 1,
        "warnings": 0,
    }
    [problem] = report["problems"]
    assert problem["line"] == 36
    assert problem["column"] == 7
    assert problem["field"] == "spec.variants[1].architecture"
    assert problem["code"] == "unknown_architecture"


def test_github_annotations(catalog_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _break_architecture(catalog_dir)
    assert main(["validate", "--catalog", str(catalog_dir), "--format", "github"]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        f"::error file={catalog_dir}/images/autosd9-qemu-bootc/2026.01.15.yaml,line=36,col=7,"
        "title=spec.variants[1].architecture::'arm' is not a known architecture "
        "(known: x86_64, aarch64; aliases: amd64, arm64)"
    )


def test_missing_catalog_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--catalog", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'nope'}: no such catalog folder (pass --catalog DIR)\n"
    )


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["validate", "--no-such-option"])
    assert caught.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def _explode(monkeypatch: pytest.MonkeyPatch) -> None:
    """`validate` forced into an unexpected exception."""
    import image_catalog.cli.validate_cmd as validate_cmd

    def explode(_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(validate_cmd, "validate", explode)


def test_internal_error_is_one_line_without_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """When no crash report can be written (its folder is a file here), one line says it all."""
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    _explode(monkeypatch)
    assert main(["validate"]) == 3
    err = capsys.readouterr().err
    assert err == (
        "internal error: RuntimeError: boom (run again with --debug for the traceback, "
        "and report it)\n"
    )
    assert main(["validate", "--debug"]) == 3
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_internal_error_writes_a_crash_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    _explode(monkeypatch)
    url = "https://robot:s3cret@index.example.com/site"
    assert main(["validate", "--catalog", url]) == 3
    log = tmp_path / "xdg/image-catalog/crash.log"
    assert capsys.readouterr().err == (
        f"internal error: RuntimeError: boom; a crash report is in {log} (please attach it to a "
        "bug report)\n"
    )
    report = log.read_text()
    for what in ("python", "image-catalog", "skopeo", "msgspec", "pydantic", "ruamel.yaml"):
        assert re.search(rf"^{re.escape(what)}: \S", report, re.MULTILINE), what
    assert "pygit2: " in report
    assert re.search(r"^skopeo: skopeo version \d", report, re.MULTILINE)
    assert "image-catalog validate --catalog https://[redacted]@index.example.com/site" in report
    assert "s3cret" not in report
    assert "RuntimeError: boom" in report
    assert "Traceback (most recent call last)" in report

    assert main(["validate", "--debug"]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.endswith(f"a crash report is in {log} (please attach it to a bug report)\n")


def test_a_crash_report_notes_a_missing_skopeo(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    _explode(monkeypatch)
    assert main(["validate"]) == 3
    assert "a crash report is in" in capsys.readouterr().err
    assert "\nskopeo: not installed\n" in (tmp_path / "xdg/image-catalog/crash.log").read_text()


def test_schema_check_detects_stale_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", "--dir", str(tmp_path)]) == 0
    assert main(["schema", "--dir", str(tmp_path), "--check"]) == 0
    (tmp_path / "registry.schema.json").write_text("{}\n")
    assert main(["schema", "--dir", str(tmp_path), "--check"]) == 1
    assert "stale schemas: registry.schema.json" in capsys.readouterr().err


def test_committed_schemas_are_current() -> None:
    assert main(["schema", "--dir", str(REPO / "schemas"), "--check"]) == 0


def test_every_catalog_file_names_its_schema() -> None:
    for path in (REPO / "catalog").rglob("*.yaml"):
        first = path.read_text().splitlines()[0]
        depth = len(path.relative_to(REPO).parts) - 1
        kind = {"images": "catalogimage", "registries": "registry"}.get(path.parent.parent.name)
        kind = kind or {"registries": "registry"}.get(path.parent.name, "vocabulary")
        assert first == f"# yaml-language-server: $schema={'../' * depth}schemas/{kind}.schema.json"


@pytest.mark.parametrize("command", [["image-catalog"], [sys.executable, "-m", "image_catalog"]])
def test_entry_points(command: list[str]) -> None:
    done = subprocess.run(
        [*command, "validate", "--catalog", str(REPO / "catalog")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "is valid" in done.stdout


def test_timeout_must_be_finite(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["validate", "--online", "--timeout", "inf"])
    assert caught.value.code == 2
    assert "inf is not a number of seconds from 0 to 3600" in capsys.readouterr().err


def test_unwritable_output_is_an_input_error_not_a_crash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["index", "build", "--catalog", str(REPO / "catalog"), "--out", "/proc/x"]) == 1
    assert capsys.readouterr().err.startswith("error: cannot write the site into /proc/x: ")
    assert main(["schema", "--dir", "/proc/x"]) == 2
    assert capsys.readouterr().err.startswith("error: /proc/x: cannot write the schemas: ")


def test_an_error_message_is_printed_escaped_line_by_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever a message quotes (a file, a server, a resource), no control reaches the terminal."""
    import image_catalog.cli.validate_cmd as validate_cmd
    from image_catalog.errors import CatalogError

    def refuse(_: object) -> None:
        raise CatalogError("f.json: 'a\x1b[2J\x85b\u202e'\nsecond line\t.")

    monkeypatch.setattr(validate_cmd, "validate", refuse)
    assert main(["validate"]) == 1
    assert capsys.readouterr().err == ("error: f.json: 'a\\x1b[2J\\x85b\\u202e'\nsecond line\\t.\n")
