"""One output option on every command: `--format` with the forms the command has, `--json` the
same as `--format json`, the same help everywhere; each form run as a user runs it."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_catalog.cli import build_parser, main
from support.catalogs import empty_catalog, fake_digest, image_document, registry_manifest
from support.entries import write_document
from support.git import GitWork
from support.paths import SHIPPED_CATALOG

# The forms each command offers: github where it reports problems in files or entries.
FORMS = {
    "validate": ("text", "json", "github"),
    "publish imagebuild": ("text", "json", "github"),
    "publish image": ("text", "json", "github"),
    "schema": ("text", "json"),
    "audit": ("text", "json", "github"),
    "index build": ("text", "json", "github"),
    "query": ("text", "json"),
    "show": ("text", "json"),
    "pull": ("text", "json"),
    "export crs": ("text", "json", "github"),
    "check": ("text", "json", "github"),
    "check merge": ("text", "json", "github"),
    "handoff unpack": ("text", "json"),
}


def _commands(
    parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command that runs something, by its words, with its parser."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if words and any(a.dest == "format" for a in parser._actions):
        yield " ".join(words), parser
    for action in subparsers:
        for name, child in action.choices.items():
            yield from _commands(child, (*words, name))


def _option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    [action] = [a for a in parser._actions if flag in a.option_strings]
    return action


def test_every_command_offers_its_forms_with_the_same_help() -> None:
    found = dict(_commands(build_parser([])))
    assert sorted(found) == sorted(FORMS)
    helps = {}
    for words, parser in found.items():
        chosen = _option(parser, "--format")
        assert tuple(chosen.choices or ()) == FORMS[words], words
        assert chosen.default == "text"
        helps[FORMS[words]] = helps.get(FORMS[words], chosen.help)
        assert chosen.help == helps[FORMS[words]], words
        alias = _option(parser, "--json")
        assert (alias.dest, alias.const, alias.help) == (
            "format",
            "json",
            "the same as --format json",
        )
    assert helps[("text", "json", "github")] == (
        "text for people, json for programs, github for workflow annotations (default: text)"
    )


@pytest.mark.parametrize("words", sorted(FORMS))
def test_an_unknown_form_is_a_usage_error_naming_the_choices(
    words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*words.split(), "--format", "yaml"])
    assert exited.value.code == 2
    choices = ", ".join(f"'{form}'" for form in FORMS[words])
    assert f"argument --format: invalid choice: 'yaml' (choose from {choices})" in (
        capsys.readouterr().err
    )


# --- --format json is JSON on standard output, and --json is the same --------------------------


def _run(args: list[str], capsys: pytest.CaptureFixture[str], code: int = 0) -> str:
    assert main(args) == code
    return capsys.readouterr().out


def _same_json(args: list[str], capsys: pytest.CaptureFixture[str], code: int = 0) -> object:
    formatted = _run([*args, "--format", "json"], capsys, code)
    aliased = _run([*args, "--json"], capsys, code)
    assert formatted == aliased
    return json.loads(formatted)


def test_offline_commands_print_the_same_json_for_both_spellings(
    catalog_dir: Path, shipped_site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = ["--catalog", str(catalog_dir)]
    validated = _same_json(["validate", *catalog], capsys)
    assert isinstance(validated, dict)
    assert validated["valid"] is True
    assert _same_json(["schema", "--check"], capsys) == {
        "directory": "schemas",
        "schemas": 3,
        "checked": True,
        "written": [],
    }
    built = _same_json(["index", "build", *catalog, "--out", str(tmp_path / "site")], capsys)
    assert isinstance(built, dict)
    assert (built["out"], built["images"], built["signedBy"]) == (str(tmp_path / "site"), 7, None)
    exported = _same_json(["export", "crs", *catalog, "--out", str(tmp_path / "crs")], capsys)
    assert isinstance(exported, dict)
    assert "kustomization.yaml" not in exported["resources"]
    assert sorted(p.name for p in (tmp_path / "crs").iterdir()) == sorted(
        [*exported["resources"], "kustomization.yaml"]
    )
    index = ["--index", str(shipped_site)]
    queried = _same_json(["query", *index], capsys)
    assert isinstance(queried, dict)
    assert len(queried["images"]) == 7
    shown = _same_json(["show", "autosd9-am69sk", *index], capsys)
    assert isinstance(shown, dict)
    assert shown["kind"] == "Version"


def test_handoff_unpack_lists_the_copied_files_as_json(
    catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    artifact = tmp_path / "artifact/catalog/images/autosd10-acrn"
    artifact.mkdir(parents=True)
    entry = catalog_dir / "images/autosd10-acrn/1.2.0.yaml"
    (artifact / "1.2.0.yaml").write_bytes(entry.read_bytes())
    args = ["handoff", "unpack", str(tmp_path / "artifact"), "--catalog", str(catalog_dir)]
    assert _same_json(args, capsys) == {"catalog": str(catalog_dir), "copied": [str(entry)]}
    assert _run(args, capsys) == f"{entry}\n"


@pytest.mark.git
def test_audit_prints_the_same_json_for_both_spellings(
    git_catalog: GitWork, capsys: pytest.CaptureFixture[str]
) -> None:
    audited = _same_json(["audit", "--catalog", str(git_catalog.root / "catalog")], capsys)
    assert isinstance(audited, dict)
    assert len(audited["events"]) == 8


# --- --format github: problems annotated on their file and line ---------------------------------

ANNOTATION = re.compile(r"::error file=(?P<file>[^,]+),line=(?P<line>\d+),col=\d+,title=[^:]+::")


def _break_architecture(catalog: Path) -> str:
    entry = catalog / "images/autosd9-qemu-bootc/2026.01.15.yaml"
    entry.write_text(entry.read_text().replace("architecture: aarch64", "architecture: arm"))
    return str(entry)


@pytest.mark.parametrize(
    "words", [["validate"], ["index", "build", "--out", "SITE"], ["export", "crs", "--out", "SITE"]]
)
def test_an_invalid_catalog_is_annotated_on_its_file_and_line(
    words: list[str], catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = _break_architecture(catalog_dir)
    args = [w.replace("SITE", str(tmp_path / "out")) for w in words]
    assert main([*args, "--catalog", str(catalog_dir), "--format", "github"]) == 1
    printed = capsys.readouterr()
    found = ANNOTATION.match(printed.out)
    assert found is not None, printed.out
    assert (found["file"], found["line"]) == (entry, "36")
    said = "::'arm' is not a known architecture (known: x86_64, aarch64; aliases: amd64, arm64)"
    assert printed.out.splitlines()[0].endswith(said)
    assert not (tmp_path / "out").exists()


def test_an_entry_export_cannot_express_is_annotated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quay = (SHIPPED_CATALOG / "registries/quay-automotive.yaml").read_text()
    local = registry_manifest("local", "127.0.0.1:5000")
    catalog = empty_catalog(tmp_path / "catalog", {"local": local, "quay-automotive": quay})
    document = image_document("local-image", "1.0", fake_digest("local"))
    loopback = document.replace("quay.io/automotive-images/", "127.0.0.1:5000/automotive/")
    write_document(catalog, "local-image", "1.0", loopback)
    write_document(catalog, "fine", "1.0", image_document("fine", "1.0", fake_digest("fine")))
    args = ["export", "crs", "--catalog", str(catalog), "--out", str(tmp_path / "crs")]
    assert main([*args, "--format", "github"]) == 1
    entry = f"{catalog}/images/local-image/1.0.yaml"
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(
        f"::error file={entry},line=15,col=9,title=spec.variants[0].container.ref::127.0.0.1"
    )
    assert main([*args, "--format", "github", "--skip-unexpressible"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"::warning file={entry},line=15,col=9,")
    assert lines[-1] == (
        f"::notice::{tmp_path / 'crs'}: 1 CatalogImage resources, listed in kustomization.yaml"
    )
