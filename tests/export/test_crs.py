"""`export crs`: the catalog as the operator's CatalogImage resources, checked against its CRD."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from image_catalog.cli import main
from image_catalog.export import crs
from image_catalog.export.names import short_hash
from support.catalogs import empty_catalog, fake_digest, image_document, registry_manifest
from support.entries import entry_text, write_document
from support.exports import SCHEMA, exported_resources
from support.git import GitWork
from support.paths import SHIPPED_CATALOG

MEDIA = "application/vnd.oci.image.manifest.v1+json"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def _export(catalog: Path, out: Path, *extra: str) -> int:
    return main(["export", "crs", "--catalog", str(catalog), "--out", str(out), *extra])


def test_shipped_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "crs"
    assert _export(SHIPPED_CATALOG, out, "--namespace", "automotive") == 0
    assert capsys.readouterr().out == (
        f"{out}: 9 CatalogImage resources, listed in kustomization.yaml; 1 deprecated version "
        "left out\n"
    )
    resources = exported_resources(out)
    assert sorted(resources) == [
        "autosd10-acrn.1.2.0-x86-64",
        "autosd10-rpi4.20260124.0805-aarch64-disk",
        "autosd9-am69sk.9.4.1-aarch64-disk",
        "autosd9-qemu-bootc.2026.01.15",
        "autosd9-rcar-s4.20260118.2210-aarch64",
        "autosd9-rcar-s4.20260118.2210-aarch64-disk",
        "cs9-qemu-qcow2.20260122.0300-aarch64-disk",
        "cs9-qemu-qcow2.20260122.0300-x86-64-disk",
        "rhivos-ride4-sa8775p.2.0.3-aarch64-disk",
    ]
    # A multi-arch index is one resource; the operator lists its platforms itself.
    index = resources["autosd9-qemu-bootc.2026.01.15"]
    assert "architecture" not in index["spec"]["metadata"]
    assert index["metadata"]["labels"][crs.LABEL_PART] == "index"
    disk = resources["rhivos-ride4-sa8775p.2.0.3-aarch64-disk"]
    assert disk["metadata"]["namespace"] == "automotive"
    assert disk["metadata"]["labels"][crs.LABEL_NAME] == "rhivos-ride4-sa8775p"
    assert disk["metadata"]["labels"][crs.LABEL_VERSION] == "2.0.3"
    assert disk["metadata"]["annotations"][crs.ANNOTATION_ENTRY] == "rhivos-ride4-sa8775p@2.0.3"
    assert len(disk["metadata"]["annotations"][crs.ANNOTATION_COMMIT]) == 40
    assert disk["spec"]["registryUrl"].endswith("@" + disk["spec"]["digest"])
    assert disk["spec"]["metadata"] == {
        "architecture": "aarch64",
        "distro": "rhivos-core-2.0",
        "distroVersion": "2.0.3",
        "targets": [
            {"name": "ride4_sa8775p_sx", "verified": True},
            {"name": "ride4_sa8775p_sx_r3", "verified": False},
        ],
        "bootc": False,
        "buildMode": "image",
        "exportFormat": "simg",
    }
    assert disk["spec"]["tags"] == ["production"]


def test_deprecated_versions_only_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "crs"
    assert _export(SHIPPED_CATALOG, out, "--include-deprecated") == 0
    old = exported_resources(out)["autosd10-rpi4.20260110.0812-aarch64-disk"]
    assert old["metadata"]["labels"][crs.LABEL_DEPRECATED] == "true"
    assert "namespace" not in old["metadata"]


def test_byte_identical_on_rebuild(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert _export(SHIPPED_CATALOG, first) == 0
    assert _export(SHIPPED_CATALOG, second) == 0
    before = _tree(first)
    assert before == _tree(second)
    assert _export(SHIPPED_CATALOG, first) == 0  # replaces an earlier export in place
    assert _tree(first) == before


def test_refuses_to_replace_a_folder_that_is_no_export(tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert _export(SHIPPED_CATALOG, out) == 2
    assert (out / "notes.txt").read_text() == "keep me"


def test_bad_namespace_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _export(SHIPPED_CATALOG, tmp_path / "crs", "--namespace", "Automotive") == 2
    assert "'Automotive' is not a Kubernetes namespace name" in capsys.readouterr().err
    assert not (tmp_path / "crs").exists()


def test_patterns_agree_with_the_crd() -> None:
    spec = SCHEMA["properties"]["spec"]["properties"]
    assert crs.REGISTRY_URL_PATTERN.pattern == spec["registryUrl"]["pattern"]
    assert crs.DIGEST_PATTERN.pattern == spec["digest"]["pattern"]
    assert list(crs.BUILD_MODES) == spec["metadata"]["properties"]["buildMode"]["enum"]


# --- names ---------------------------------------------------------------------------------------


def _write(catalog: Path, name: str, version: str, document: str) -> None:
    write_document(catalog, name, version, document)


def _index_document(name: str, version: str) -> str:
    """A multi-arch entry on quay.io: an index and one container per architecture."""

    def manifest(seed: str) -> dict[str, Any]:
        return {
            "ref": f"quay.io/automotive-images/{name}@{fake_digest(seed)}",
            "mediaType": MEDIA,
            "size": 1000,
        }

    spec = {
        "displayName": f"{name} {version}",
        "distro": "autosd9-sig",
        "targets": [{"name": "qemu"}],
        "index": {
            **manifest(f"{name}{version}index"),
            "mediaType": MEDIA.replace("manifest", "index"),
        },
        "variants": [
            {"architecture": arch, "container": manifest(f"{name}{version}{arch}")}
            for arch in ("aarch64", "x86_64")
        ],
        "source": {"prebuilt": {"origin": "tests"}},
        "publishedAt": "2026-01-15T09:30:00Z",
    }
    return entry_text(name, version, spec)


def test_names_that_meet_or_fold_alike_get_hashes(catalog_dir: Path, tmp_path: Path) -> None:
    # `coll.1-aarch64` + `-aarch64` (one architecture) meets `coll.1-aarch64-aarch64` (an index).
    _write(
        catalog_dir,
        "coll",
        "1-aarch64",
        image_document("coll", "1-aarch64", fake_digest("a"), architecture="aarch64"),
    )
    _write(catalog_dir, "coll", "1-aarch64-aarch64", _index_document("coll", "1-aarch64-aarch64"))
    # Upper case and `_` fold into DNS text: the folded name carries a hash of the real version.
    _write(catalog_dir, "fold", "1.0_RC1", image_document("fold", "1.0_RC1", fake_digest("b")))
    _write(catalog_dir, "fold", "1.0-rc1", image_document("fold", "1.0-rc1", fake_digest("c")))
    out = tmp_path / "crs"
    assert _export(catalog_dir, out) == 0
    names = {
        r["metadata"]["annotations"][crs.ANNOTATION_ENTRY]
        + "#"
        + r["metadata"]["labels"][crs.LABEL_PART]: n
        for n, r in exported_resources(out).items()
    }
    mine = {k: v for k, v in names.items() if k.startswith(("coll@", "fold@"))}
    hashed = short_hash
    assert mine == {
        "coll@1-aarch64#container": "coll.1-aarch64-aarch64-"
        + hashed("coll@1-aarch64#container:aarch64"),
        "coll@1-aarch64-aarch64#index": "coll.1-aarch64-aarch64-"
        + hashed("coll@1-aarch64-aarch64#index:"),
        "fold@1.0-rc1#container": "fold.1.0-rc1-x86-64",
        "fold@1.0_RC1#container": "fold.1.0-rc1-x86-64-" + hashed("fold@1.0_RC1#container:x86_64"),
    }


def test_over_long_names_and_versions(catalog_dir: Path, tmp_path: Path) -> None:
    name = "a-very-long-image-name-for-a-board"  # 34 characters
    version = "2026.01.15-" + "r" * 53  # 64 characters: too long for a label value
    _write(catalog_dir, name, version, image_document(name, version, fake_digest("long")))
    out = tmp_path / "crs"
    assert _export(catalog_dir, out) == 0
    [(resource_name, resource)] = [
        (n, r) for n, r in exported_resources(out).items() if n.startswith("a-very-long")
    ]
    identity = f"{name}@{version}#container:x86_64"
    assert len(resource_name) == 63
    assert resource_name.endswith("-" + short_hash(identity))
    assert resource_name.startswith(f"{name}.2026.01.15-rrr")
    assert crs.LABEL_VERSION not in resource["metadata"]["labels"]
    assert resource["metadata"]["labels"][crs.LABEL_NAME] == name
    assert resource["metadata"]["annotations"][crs.ANNOTATION_ENTRY] == f"{name}@{version}"


# --- what the CRD cannot express ----------------------------------------------------------------


def _loopback_catalog(root: Path) -> Path:
    registry = registry_manifest("local", "127.0.0.1:5000")
    quay = (SHIPPED_CATALOG / "registries" / "quay-automotive.yaml").read_text()
    catalog = empty_catalog(root, {"local": registry, "quay-automotive": quay})
    local = image_document("local-image", "1.0", fake_digest("local")).replace(
        "quay.io/automotive-images/", "127.0.0.1:5000/automotive/"
    )
    _write(catalog, "local-image", "1.0", local)
    _write(catalog, "fine", "1.0", image_document("fine", "1.0", fake_digest("fine")))
    return catalog


def test_an_entry_the_crd_cannot_express_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _loopback_catalog(tmp_path / "catalog")
    out = tmp_path / "crs"
    assert _export(catalog, out) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "error: 1 entry cannot be expressed as CatalogImage resources; nothing was written "
        "(--skip-unexpressible writes the others):\n"
        f"  {catalog}/images/local-image/1.0.yaml:15:9: spec.variants[0].container.ref: "
        f"127.0.0.1:5000/automotive/local-image@{fake_digest('local')} does not fit the "
        "CatalogImage CRD's registryUrl pattern"
    )
    assert not out.exists()

    assert _export(catalog, out, "--skip-unexpressible") == 0
    captured = capsys.readouterr()
    assert "warning: not exported: " in captured.err
    assert "local-image/1.0.yaml" in captured.err
    assert sorted(exported_resources(out)) == ["fine.1.0-x86-64"]


# --- the same set in the site --------------------------------------------------------------------


def test_index_build_writes_the_same_set_into_the_site(tmp_path: Path) -> None:
    exported, site = tmp_path / "crs", tmp_path / "site"
    assert _export(SHIPPED_CATALOG, exported, "--namespace", "automotive") == 0
    args = ["index", "build", "--catalog", str(SHIPPED_CATALOG), "--out", str(site), "--crs"]
    assert main([*args, "--crs-namespace", "automotive"]) == 0
    assert _tree(site / "crs") == _tree(exported)
    sums = (site / "SHA256SUMS").read_text()
    assert "  crs/kustomization.yaml\n" in sums


def test_index_build_leaves_out_what_the_crd_cannot_express(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _loopback_catalog(tmp_path / "catalog")
    site = tmp_path / "site"
    assert main(["index", "build", "--catalog", str(catalog), "--out", str(site), "--crs"]) == 0
    err = capsys.readouterr().err
    assert f"warning: not in crs/: {catalog}/images/local-image/1.0.yaml:15:9: " in err
    assert sorted(exported_resources(site / "crs")) == ["fine.1.0-x86-64"]
    assert (site / "images" / "local-image.json").is_file()  # the index itself lists it


def test_what_the_crd_has_no_field_for_goes_into_annotations(
    catalog_dir: Path, tmp_path: Path
) -> None:
    """`disk` is a build mode the operator's ImageBuild has but its CatalogImage enum lacks."""
    text = image_document("from-disk", "1.0", fake_digest("from-disk")).replace(
        "  distro: autosd9-sig\n",
        "  distro: autosd9-sig\n  buildMode: disk\n  exportFormat: qcow2\n",
    )
    text = text.replace(
        "    - name: qemu\n", "    - name: qemu\n      verified: true\n      notes: tested\n"
    )
    assert "notes: tested" in text
    _write(catalog_dir, "from-disk", "1.0", text)
    out = tmp_path / "crs"
    assert _export(catalog_dir, out) == 0
    resource = exported_resources(out)["from-disk.1.0-x86-64"]
    assert resource["metadata"]["annotations"][crs.ANNOTATION_BUILD_MODE] == "disk"
    assert resource["spec"]["metadata"]["targets"] == [
        {"name": "qemu", "verified": True, "notes": "tested"}
    ]
    assert "buildMode" not in resource["spec"]["metadata"]
    assert (
        resource["spec"]["metadata"]["exportFormat"] == "oci"
    )  # a container, as the operator says


@pytest.mark.git
def test_a_resource_names_the_commit_that_last_changed_its_entry(
    git_catalog: GitWork, tmp_path: Path
) -> None:
    """Merges that do not touch an entry leave its resource byte for byte: a GitOps diff shows
    only what changed."""
    catalog = git_catalog.root / "catalog"
    first = git_catalog.repo.head.target
    out = tmp_path / "crs"
    assert _export(catalog, out) == 0
    before = _tree(out)

    (git_catalog.root / "README.md").write_text("a catalog, now documented\n")
    git_catalog.commit("Docs only")
    _write(catalog, "newer", "1.0", image_document("newer", "1.0", fake_digest("newer")))
    added = git_catalog.commit("Publish newer@1.0")
    assert _export(catalog, out) == 0
    after = _tree(out)
    assert {k: v for k, v in after.items() if k in before and k != "kustomization.yaml"} == {
        k: v for k, v in before.items() if k != "kustomization.yaml"
    }
    resources = exported_resources(out)
    assert resources["newer.1.0-x86-64"]["metadata"]["annotations"][crs.ANNOTATION_COMMIT] == added
    acrn = resources["autosd10-acrn.1.2.0-x86-64"]
    assert acrn["metadata"]["annotations"][crs.ANNOTATION_COMMIT] == str(first)
