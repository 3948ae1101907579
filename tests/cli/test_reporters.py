"""Core calls and their results: `validate` as a library call with the registry-trust rule, and
the reporters' json and github forms."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from image_catalog.catalog.loader import load_catalog
from image_catalog.catalog.review import ChangeSet, compare_with_base
from image_catalog.cli import main
from image_catalog.cli.reporters import ReviewReporter, escape_data
from image_catalog.commands.validate import ValidateSettings, trusted_registries, validate
from image_catalog.errors import ExitCode, UsageError
from image_catalog.manifest.model import NoAuth
from support.catalogs import empty_catalog, fake_digest, image_document, registry_manifest
from support.git import GitWork
from support.oci import push_image
from support.registry import LocalRegistry

AUTH = {"method": "environment", "usernameVariable": "USER"}


@pytest.mark.git
def test_a_library_caller_gets_the_report_with_the_change(git_catalog: GitWork) -> None:
    catalog = git_catalog.root / "catalog"
    entry = catalog / "images/fresh/2.0.yaml"
    entry.parent.mkdir()
    entry.write_text(image_document("fresh", "2.0", fake_digest("fresh")))
    report = validate(ValidateSettings(catalog=catalog, base="main"))
    assert report.exit_code is ExitCode.OK
    assert report.changes is not None
    assert report.changes.added == ["fresh@2.0"]
    assert report.changes.commit == str(git_catalog.repo.head.target)


def test_removal_without_a_base_is_refused_by_the_settings(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--allow-removal only means something with --base"):
        ValidateSettings(catalog=tmp_path, allow_removal=True)


@pytest.mark.git
def test_a_registry_the_change_redirects_gets_no_credentials(tmp_path: Path) -> None:
    work = GitWork(tmp_path / "repo")
    before = registry_manifest("secure", "registry.example.com", {**AUTH, "passwordVariable": "A"})
    catalog = empty_catalog(work.root / "catalog", {"secure": before})
    work.commit("A registry that needs credentials")
    loaded = load_catalog(catalog)
    registries, warnings = trusted_registries(loaded, compare_with_base(loaded, "main"))
    assert [r.spec.auth for r in registries] == [loaded.registries[0].model.spec.auth]
    assert warnings == []

    after = registry_manifest("secure", "registry.example.com", {**AUTH, "passwordVariable": "B"})
    (catalog / "registries/secure.yaml").write_text(after)
    loaded = load_catalog(catalog)
    changes = compare_with_base(loaded, "main")
    assert changes.registries == ["secure"]
    registries, warnings = trusted_registries(loaded, changes)
    assert registries[0].spec.auth == NoAuth(method="none")
    assert registries[0].spec.host == "registry.example.com"
    assert [(w.code, w.severity) for w in warnings] == [("untrusted_registry", "warning")]
    # Without a change under review, every registry keeps its credentials.
    registries, warnings = trusted_registries(loaded, None)
    assert registries[0].spec.auth == loaded.registries[0].model.spec.auth
    assert warnings == []


def test_the_review_renders_in_every_form() -> None:
    changes = ChangeSet(base="main", commit="0123456789abcdef", added=["a@1"], removed=["b@2"])
    forms = {}
    for form in ("text", "json", "github"):
        out = io.StringIO()
        ReviewReporter(out, io.StringIO()).report(form, changes)
        forms[form] = out.getvalue()
    assert forms["text"] == (
        "changes since main (0123456789ab): 1 added, 0 deprecated, 0 changed, 1 removed\n"
        "  added: a@1\n"
        "  removed: b@2\n"
    )
    assert json.loads(forms["json"]) == {
        "base": "main",
        "commit": "0123456789abcdef",
        "added": ["a@1"],
        "deprecated": [],
        "changed": [],
        "removed": ["b@2"],
    }
    assert "| added (1) | `a@1` |" in forms["github"].splitlines()


@pytest.mark.git
def test_audit_in_the_github_form(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = GitWork(tmp_path / "repo")
    catalog = empty_catalog(work.root / "catalog", {})
    (catalog / "images/a").mkdir()
    (catalog / "images/a/1.0.yaml").write_text(image_document("a", "1.0", fake_digest("a")))
    commit = work.commit("Publish a@1.0 (#7)", author="Bob")
    assert main(["audit", "--format", "github", "--catalog", str(catalog)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("::notice file=catalog/images/a/1.0.yaml,title=a@1.0::2026-")
    assert out.endswith(f"added         a@1.0  {commit[:12]}  #7  by Bob <bob@example.com>\n")
    assert out.count("\n") == 1


def test_publish_in_the_json_form(
    registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = push_image(registry, "results/publish", "1.0", "arm64", created="2026-03-01T00:00:00Z")
    args = ["publish", "image", f"{registry.host}/results/publish:1.0", "--catalog"]
    args += [str(local_catalog), "--distro", "autosd9-sig", "--target", "qemu", "--dry-run"]
    assert main([*args, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["status"] == "dry-run"
    assert document["id"] == "autosd9-sig-qemu-aarch64@20260301.000000"
    assert document["manifest"].startswith("# yaml-language-server: $schema=")
    assert image.digest in document["manifest"]
    assert not (local_catalog / "images/autosd9-sig-qemu-aarch64").exists()


def test_github_annotations_escape_what_would_rewrite_the_log() -> None:
    message = "50% of \x1b[2Kvalid\u202e\nsecond\rline"
    assert escape_data(message) == "50%25 of \\x1b[2Kvalid\\u202e%0Asecond\\rline"
