"""Reusing the checks of unchanged files: what changed is checked again, the cache is never
trusted blindly, and the results are the same with and without it."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from image_catalog.build.render import build_from_scratch
from image_catalog.catalog import cache as cache_module
from image_catalog.catalog.blobs import blob_id
from image_catalog.catalog.cache import cache_file, code_fingerprint
from image_catalog.catalog.git import worktree_blobs
from image_catalog.catalog.incremental import check_catalog
from image_catalog.catalog.validate import ValidationReport, validate_catalog
from image_catalog.cli import main
from support.catalogs import fake_digest, image_document
from support.git import GitWork

RPI4_OLD = "images/autosd10-rpi4/20260110.0812.yaml"
RPI4_NEW = "images/autosd10-rpi4/20260124.0805.yaml"  # what RPI4_OLD is superseded by
ACRN = "images/autosd10-acrn/1.2.0.yaml"


def described(report: ValidationReport) -> list[tuple[str, str, str]]:
    return [(str(p), p.code, p.severity) for p in report.problems]


def same_as_without_cache(root: Path) -> ValidationReport:
    """Check `root` with its cache, and assert that every way without one says the same."""
    report, _ = check_catalog(root)
    fresh, stats = check_catalog(root, use_cache=False)
    assert stats.cache is None
    _, full = validate_catalog(root)
    assert described(report) == described(fresh) == described(full)
    assert (report.images, report.files) == (fresh.images, fresh.files) == (full.images, full.files)
    return report


def test_second_run_reuses_every_file(catalog_dir: Path) -> None:
    first, stats = check_catalog(catalog_dir)
    assert first.ok
    assert stats.checked == stats.files == 8
    assert stats.cache == catalog_dir.parent / ".cache/image-catalog" / stats.cache.name
    second, stats = check_catalog(catalog_dir)
    assert (stats.checked, stats.reused) == (0, 8)
    assert described(second) == described(first) == []


def test_changed_file_is_checked_again(catalog_dir: Path) -> None:
    check_catalog(catalog_dir)
    entry = catalog_dir / ACRN
    entry.write_text(entry.read_text().replace("architecture: amd64", "architecture: arm"))
    report, stats = check_catalog(catalog_dir)
    assert stats.checked == 1
    assert [p.code for p in report.errors] == ["unknown_architecture"]
    assert report.errors[0].line is not None
    assert described(report) == described(same_as_without_cache(catalog_dir))


def test_added_file_is_checked_and_compared_with_cached_entries(catalog_dir: Path) -> None:
    check_catalog(catalog_dir)
    existing = (catalog_dir / ACRN).read_text()
    copy = catalog_dir / "images/autosd10-acrn/1.3.0.yaml"
    copy.write_text(existing.replace("version: 1.2.0", "version: 1.3.0"))
    report, stats = check_catalog(catalog_dir)
    assert stats.checked == 1
    assert {p.code for p in report.errors} == {"duplicate_digest"}
    assert all(p.file.endswith("1.3.0.yaml") for p in report.errors)
    assert described(report) == described(same_as_without_cache(catalog_dir))


def test_removed_file_dangles_its_successors_reference(catalog_dir: Path) -> None:
    check_catalog(catalog_dir)
    (catalog_dir / RPI4_NEW).unlink()
    report, stats = check_catalog(catalog_dir)
    assert (stats.checked, stats.files) == (0, 7)  # the cross-entry check runs on cached facts
    assert [(p.file, p.code) for p in report.errors] == [(str(catalog_dir / RPI4_OLD), "lifecycle")]
    assert described(report) == described(same_as_without_cache(catalog_dir))


def test_renamed_file_is_checked_again(catalog_dir: Path) -> None:
    check_catalog(catalog_dir)
    moved = catalog_dir / "images/autosd10-acrn/9.9.9.yaml"
    (catalog_dir / ACRN).rename(moved)
    report, stats = check_catalog(catalog_dir)
    assert stats.checked == 1
    assert [(p.file, p.code) for p in report.errors] == [(str(moved), "path")]
    assert described(report) == described(same_as_without_cache(catalog_dir))


def test_invalid_files_are_cached_with_their_problems(catalog_dir: Path) -> None:
    (catalog_dir / ACRN).write_text("a: [\n")
    (catalog_dir / RPI4_OLD).write_text("kind: Registry\n")
    first, _ = check_catalog(catalog_dir)
    second, stats = check_catalog(catalog_dir)
    assert stats.checked == 0
    assert described(second) == described(first)
    assert {p.code for p in second.errors} == {"yaml", "kind"}
    assert described(second) == described(same_as_without_cache(catalog_dir))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: data[: len(data) // 2], "checksum mismatch"),
        (lambda data: data[:-1] + bytes([data[-1] ^ 1]), "checksum mismatch"),
        (lambda data: b"\x80\x04garbage that is not a cache", "not a cache of this tool"),
        (lambda data: b"", "not a cache of this tool"),
    ],
)
def test_corrupt_cache_is_discarded(catalog_dir: Path, damage: object, reason: str) -> None:
    assert callable(damage)
    _, stats = check_catalog(catalog_dir)
    assert stats.cache is not None
    stats.cache.write_bytes(damage(stats.cache.read_bytes()))
    report, stats = check_catalog(catalog_dir)
    assert (stats.discarded, stats.checked) == (reason, 8)
    assert report.ok
    _, stats = check_catalog(catalog_dir)  # rewritten whole
    assert (stats.discarded, stats.checked) == (None, 0)


def test_well_formed_cache_with_lying_content_is_refused(catalog_dir: Path) -> None:
    """A cache with a valid checksum but the wrong shape is not decoded into facts."""
    _, stats = check_catalog(catalog_dir)
    assert stats.cache is not None
    assert cache_module.write_cache(
        stats.cache, {"key": "x", "files": {ACRN: ["blob", "not facts"]}}
    )
    _, stats = check_catalog(catalog_dir)
    assert (stats.discarded, stats.checked) == ("malformed", 8)


@pytest.mark.parametrize(
    ("module", "attribute"),
    [
        ("image_catalog", "__version__"),
        ("msgspec", "__version__"),
        ("pydantic", "VERSION"),
        ("zlib", "ZLIB_RUNTIME_VERSION"),
    ],
)
def test_cache_of_another_tool_or_dependency_version_is_ignored(
    catalog_dir: Path, monkeypatch: pytest.MonkeyPatch, module: str, attribute: str
) -> None:
    """What the checks and documents are made with may change them: a new version of the tool,
    or of its encoder or compressor, must not meet facts or documents cached by the old one."""
    check_catalog(catalog_dir)
    monkeypatch.setattr(importlib.import_module(module), attribute, "99.0.0-other")
    code_fingerprint.cache_clear()
    try:
        _, stats = check_catalog(catalog_dir)
    finally:
        code_fingerprint.cache_clear()
    assert stats.checked == 8
    assert stats.discarded is not None
    assert "another version" in stats.discarded


def test_changed_vocabulary_checks_everything_again(catalog_dir: Path) -> None:
    check_catalog(catalog_dir)
    vocabulary = catalog_dir / "vocabulary.yaml"
    vocabulary.write_text(vocabulary.read_text().replace("- name: x86_64", "- name: x86-64"))
    report, stats = check_catalog(catalog_dir)
    assert stats.checked == 8
    assert not report.ok
    assert described(report) == described(same_as_without_cache(catalog_dir))


def test_no_cache_option_neither_reads_nor_writes(
    catalog_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--catalog", str(catalog_dir), "--no-cache"]) == 0
    assert not cache_file(catalog_dir).exists()
    assert main(["validate", "--catalog", str(catalog_dir)]) == 0
    assert cache_file(catalog_dir).exists()
    (catalog_dir / ACRN).write_text("a: [\n")
    assert main(["validate", "--catalog", str(catalog_dir), "--no-cache"]) == 1
    assert main(["validate", "--catalog", str(catalog_dir)]) == 1
    out = capsys.readouterr().out
    assert out.count(f"{catalog_dir / ACRN}:2:1: YAML syntax error") == 2


@pytest.mark.git
def test_git_ids_come_from_head_and_changed_files_are_hashed(git_catalog: GitWork) -> None:
    root = git_catalog.root / "catalog"
    listed = worktree_blobs(root)
    assert listed[ACRN] == blob_id((root / ACRN).read_bytes())
    assert len([p for p in listed if p.startswith("images/")]) == 8
    (root / ACRN).write_text((root / ACRN).read_text() + "# changed\n")
    new = root / "images/new-image/1.0.0.yaml"
    new.parent.mkdir()
    new.write_text(image_document("new-image", "1.0.0", fake_digest("new")))
    listed = worktree_blobs(root)
    assert ACRN not in listed  # changed since HEAD: hashed from its bytes
    assert "images/new-image/1.0.0.yaml" not in listed  # untracked
    assert len([p for p in listed if p.startswith("images/")]) == 7
    # The cache sits at the top of the work tree, outside the catalog folder.
    _, stats = check_catalog(root)
    assert stats.cache is not None
    assert stats.cache.parent == git_catalog.root / ".cache/image-catalog"
    text = (root / ACRN).read_text()
    (root / ACRN).write_text(text.replace("architecture: amd64", "architecture: arm"))
    report, stats = check_catalog(root)
    assert stats.checked == 1
    assert [p.code for p in report.errors] == ["unknown_architecture"]
    git_catalog.commit("Break an entry")
    _, stats = check_catalog(root)  # the id from HEAD is the one of the bytes checked
    assert stats.checked == 0
    assert described(report) == described(same_as_without_cache(root))


# --- files known by their status (size, times, inode): not read again ----------------------------


def counted_hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every image file the checks read to learn its blob id (the vocabulary is always
    read: it is part of the cache's key)."""
    from image_catalog.catalog import incremental

    read: list[str] = []
    hash_file = incremental.file_blob_id

    def counting(path: Path) -> str | None:
        if "images" in path.parts:
            read.append(path.name)
        return hash_file(path)

    monkeypatch.setattr(incremental, "file_blob_id", counting)
    return read


def trust_fresh_statuses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written by the test are seconds old: trust their status at once (see RACY_NS)."""
    from image_catalog.catalog import incremental

    monkeypatch.setattr(incremental, "RACY_NS", 0)


def test_unchanged_files_are_known_by_status_and_not_read(
    catalog_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trust_fresh_statuses(monkeypatch)
    check_catalog(catalog_dir)
    read = counted_hashes(monkeypatch)
    report, stats = check_catalog(catalog_dir)
    assert (stats.checked, stats.reused, read) == (0, 8, [])
    assert report.ok


def test_status_just_written_is_not_trusted(
    catalog_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A change in the same tick of the file system's clock keeps size and times: a status seen
    # within two seconds of its change is not kept, so such files are read again next time.
    check_catalog(catalog_dir)
    read = counted_hashes(monkeypatch)
    _, stats = check_catalog(catalog_dir)
    assert (stats.checked, len(read)) == (0, 8)


def test_same_size_change_with_its_time_set_back_is_checked_again(
    catalog_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trust_fresh_statuses(monkeypatch)
    entry = catalog_dir / ACRN
    before = entry.stat()
    check_catalog(catalog_dir)
    text = entry.read_text()
    broken = text.replace("architecture: amd64", "architecture: amd65")
    assert len(broken) == len(text)
    assert broken != text
    entry.write_text(broken)
    os.utime(entry, ns=(before.st_atime_ns, before.st_mtime_ns))  # the change time moves on
    report, stats = check_catalog(catalog_dir)
    assert stats.checked == 1
    assert [p.code for p in report.errors] == ["unknown_architecture"]


@pytest.mark.git
def test_copied_work_tree_with_its_cache_asks_git_and_reads_nothing(
    git_catalog: GitWork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh clone with a restored cache: every status is new, git's index knows the files.
    from image_catalog.catalog import incremental

    check_catalog(git_catalog.root / "catalog")
    copy = tmp_path / "clone"
    shutil.copytree(git_catalog.root, copy)
    monkeypatch.setattr(incremental, "ASK_GIT_FROM", 1)
    read = counted_hashes(monkeypatch)
    report, stats = check_catalog(copy / "catalog")
    assert (stats.checked, stats.reused, read) == (0, 8, [])
    assert stats.cache is not None
    assert stats.cache.is_relative_to(copy)
    assert report.ok


def test_large_catalog_checked_in_worker_processes_matches(
    catalog_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from image_catalog.catalog import incremental

    monkeypatch.setattr(incremental, "PARALLEL_FROM", 2)
    (catalog_dir / ACRN).write_text("a: [\n")
    shutil.copy(catalog_dir / RPI4_NEW, catalog_dir / "images/autosd10-rpi4/1.0.yaml")
    report = same_as_without_cache(catalog_dir)
    assert {p.code for p in report.errors} == {"yaml", "path", "duplicate", "duplicate_digest"}


# --- index build: rendered entries and unchanged files reused -------------------------------------


def site_files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}


def built_three_ways(git_catalog: GitWork) -> tuple[Path, Path, Path, Path]:
    """(catalog, reused, fresh, plain): the sites `index build` makes of the catalog with the cache
    (reused) and without it (fresh), and the site rendered in this process (plain), asserted to
    be the same bytes."""
    root = git_catalog.root / "catalog"
    reused, fresh = git_catalog.root.parent / "reused", git_catalog.root.parent / "fresh"
    build = ["index", "build", "--catalog", str(root), "--out"]
    assert main([*build, str(reused)]) == 0
    assert main([*build, str(fresh), "--no-cache"]) == 0
    assert site_files(reused) == site_files(fresh)
    # Both go through the worker pipeline; the plain build renders in this process, apart.
    plain = git_catalog.root.parent / "plain"
    build_from_scratch(root, plain)
    assert site_files(plain) == site_files(fresh)
    return root, reused, fresh, plain


@pytest.mark.git
def test_index_build_with_cache_gives_the_same_bytes(git_catalog: GitWork) -> None:
    root, reused, fresh, plain = built_three_ways(git_catalog)
    kept = reused / "images/autosd10-acrn/1.2.0.json"
    before = kept.stat()
    # A changed entry, an added one and a removed one, then a commit (first-published changes).
    text = (root / RPI4_OLD).read_text()
    (root / RPI4_OLD).write_text(text.replace("displayName: ", "displayName: Edited "))
    new = root / "images/new-image/1.0.0.yaml"
    new.parent.mkdir()
    new.write_text(image_document("new-image", "1.0.0", fake_digest("new")))
    (root / "images/autosd9-am69sk/9.4.1.yaml").unlink()
    for step in range(2):
        assert (
            main(["index", "build", "--catalog", str(root), "--out", str(reused), "--allow-dirty"])
            == 0
        )
        assert (
            main(
                [
                    "index",
                    "build",
                    "--catalog",
                    str(root),
                    "--out",
                    str(fresh),
                    "--no-cache",
                    "--allow-dirty",
                ]
            )
            == 0
        )
        files = site_files(reused)
        assert files == site_files(fresh)
        build_from_scratch(root, plain)
        assert files == site_files(plain)
        assert "images/new-image/1.0.0.json" in files
        assert "images/autosd9-am69sk/9.4.1.json" not in files
        assert b"Edited" in files["images/autosd10-rpi4/20260110.0812.json"]
        git_catalog.commit("Change three entries")
        assert step == 0 or b"firstPublished" in files["images/new-image/1.0.0.json"]
    # The unchanged version document was neither rewritten nor touched: the same file.
    after = kept.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@pytest.mark.git
def test_first_published_is_found_once_per_commit(
    git_catalog: GitWork, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from image_catalog.catalog import published

    root = git_catalog.root / "catalog"
    plain, site = git_catalog.root.parent / "plain", git_catalog.root.parent / "site"
    assert main(["index", "build", "--catalog", str(root), "--out", str(plain), "--no-cache"]) == 0
    assert not list((git_catalog.root / ".cache/image-catalog").glob("*"))  # nothing written
    assert main(["index", "build", "--catalog", str(root), "--out", str(site)]) == 0
    first = site_files(site)
    assert first == site_files(plain)

    def walk_history(*_: object) -> None:
        raise AssertionError("the history was walked again for the same commit")

    monkeypatch.setattr(published, "first_published", walk_history)
    text = (root / ACRN).read_text()
    (root / ACRN).write_text(text.replace("displayName: ", "displayName: Edited "))
    assert (
        main(["index", "build", "--catalog", str(root), "--out", str(site), "--allow-dirty"]) == 0
    )
    edited = site_files(site)
    assert b"Edited" in edited["images/autosd10-acrn/1.2.0.json"]
    assert (
        edited["images/autosd10-rpi4/20260110.0812.json"]
        == first["images/autosd10-rpi4/20260110.0812.json"]
    )  # firstPublished and all, from the cache
    git_catalog.commit("Edit an entry")  # a new commit: its history is walked
    assert main(["index", "build", "--catalog", str(root), "--out", str(site)]) == 3
    assert "walked again" in capsys.readouterr().err


def test_index_build_refuses_an_invalid_catalog_from_cached_facts(catalog_dir: Path) -> None:
    site = catalog_dir.parent / "site"
    assert main(["index", "build", "--catalog", str(catalog_dir), "--out", str(site)]) == 0
    (catalog_dir / RPI4_NEW).unlink()
    assert main(["index", "build", "--catalog", str(catalog_dir), "--out", str(site)]) == 1
    assert (site / "images/autosd10-rpi4/20260124.0805.json").is_file()  # the previous site


@pytest.mark.git
def test_index_build_rendered_in_worker_processes_gives_the_same_bytes(
    git_catalog: GitWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    from image_catalog.catalog import incremental

    monkeypatch.setattr(incremental, "PARALLEL_FROM", 2)
    reused = built_three_ways(git_catalog)[1]
    assert b'"firstPublished":' in site_files(reused)["index.json"]  # the workers had it


@pytest.mark.git
def test_review_against_a_base_is_the_same_with_the_cache(
    git_catalog: GitWork, capsys: pytest.CaptureFixture[str]
) -> None:
    """validate --base reads only the changed entries' models; its report does not change."""
    root = git_catalog.root / "catalog"
    command = ["validate", "--catalog", str(root), "--base", "HEAD", "--format", "json"]
    assert main(command) == 0  # fills the cache
    capsys.readouterr()
    acrn = (root / ACRN).read_text()
    # An alias for the canonical name is no change; a new digest is one; a new file is added.
    (root / ACRN).write_text(acrn.replace("architecture: amd64", "architecture: x86_64"))
    text = (root / RPI4_NEW).read_text()
    digest = re.search(r"sha256:[0-9a-f]{64}", text)
    assert digest is not None
    (root / RPI4_NEW).write_text(text.replace(digest[0], fake_digest("other"), 1))
    new = root / "images/new-image/1.0.0.yaml"
    new.parent.mkdir()
    new.write_text(image_document("new-image", "1.0.0", fake_digest("new")))
    outputs = []
    for extra in ([], ["--no-cache"], []):
        assert main([*command, *extra]) == 1
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0]["changes"]["added"] == ["new-image@1.0.0"]
    assert [p["code"] for p in outputs[0]["problems"]] == ["immutable"]
