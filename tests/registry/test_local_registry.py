"""Tests of the test harness: a real local registry and the OCI content pushed to it.

They prove the content is real by reading it back with skopeo, the tool the catalog uses.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import registry as registry_module
from support.oci import (
    ANNOTATION_DECOMPRESSED_SIZE,
    ANNOTATION_PARTITION,
    ANNOTATION_TITLE,
    DISK_ARTIFACT_RAW,
    EMPTY_JSON_DIGEST,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    UNKNOWN_CONFIG,
    ArtifactStyle,
    DiskFile,
    push_disk_artifact,
    push_image,
    push_index,
)
from support.registry import (
    LocalRegistry,
    RegistryError,
    require_tools,
    sha256_digest,
    upload_url,
    write_authfile,
)

pytestmark = pytest.mark.registry

USER = "catalog"
PASSWORD = "s3cret-for-tests"


def skopeo(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run skopeo against a plain-HTTP loopback registry, capturing bytes exactly."""
    return subprocess.run(
        ["skopeo", *args],
        capture_output=True,
        check=False,
        timeout=60,
    )


def inspect_raw(ref: str, *extra: str) -> subprocess.CompletedProcess[bytes]:
    return skopeo("inspect", "--raw", "--tls-verify=false", *extra, f"docker://{ref}")


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    require_tools("docker-registry", "skopeo")
    with LocalRegistry() as reg:
        yield reg


@pytest.fixture(scope="module")
def auth_registry() -> Iterator[LocalRegistry]:
    require_tools("docker-registry", "skopeo", "htpasswd")
    with LocalRegistry(USER, PASSWORD) as reg:
        yield reg


# -- pure helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/v2/r/blobs/uploads/u1?_state=x", "http://h:1/v2/r/blobs/uploads/u1?_state=x&digest="),
        ("http://h:1/v2/r/blobs/uploads/u1", "http://h:1/v2/r/blobs/uploads/u1?digest="),
    ],
)
def test_upload_url_accepts_relative_and_absolute_locations(location: str, expected: str) -> None:
    assert upload_url("http://h:1", location, "sha256:ab") == expected + "sha256%3Aab"


def test_write_authfile_is_private_and_holds_basic_credentials(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text("old", encoding="utf-8")
    path.chmod(0o644)
    write_authfile(path, "127.0.0.1:5000", USER, PASSWORD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    auth = json.loads(path.read_text(encoding="utf-8"))["auths"]["127.0.0.1:5000"]["auth"]
    assert base64.b64decode(auth).decode() == f"{USER}:{PASSWORD}"


def test_require_tools_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = "no-such-tool-for-image-catalog"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=missing):
        require_tools("sh", missing)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=missing):
        require_tools(missing)
    require_tools("sh")  # present tools pass silently


# -- registry API and content read back by skopeo ------------------------------------------------


def test_blob_and_manifest_round_trip(registry: LocalRegistry) -> None:
    assert registry.request("GET", "/v2/").status == 200
    digest = registry.push_blob("rt/blob", b"hello")
    assert digest == sha256_digest(b"hello")
    assert registry.get_blob("rt/blob", digest) == b"hello"
    image = push_image(registry, "rt/image", "v1")
    assert registry.get_manifest("rt/image", "v1") == image.manifest
    assert registry.get_manifest("rt/image", image.digest) == image.manifest
    missing = registry.request("GET", "/v2/rt/image/manifests/nope")
    assert missing.status == 404
    assert b"MANIFEST_UNKNOWN" in missing.body


def test_skopeo_reads_image_manifest_exactly(registry: LocalRegistry) -> None:
    image = push_image(registry, "os/bootc", "v1", architecture="arm64")
    result = inspect_raw(f"{registry.host}/os/bootc:v1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == image.manifest
    assert sha256_digest(result.stdout) == image.digest
    assert image.ref == f"{registry.host}/os/bootc@{image.digest}"
    assert image.size == len(result.stdout)
    assert json.loads(result.stdout)["mediaType"] == OCI_MANIFEST


def test_skopeo_reads_image_config_with_labels(registry: LocalRegistry) -> None:
    labels = {"org.opencontainers.image.version": "1.2.3", "distro": "autosd"}
    image = push_image(registry, "os/labelled", "v1", labels=labels, created="2026-02-03T04:05:06Z")
    result = inspect_raw(f"{registry.host}/os/labelled:v1", "--config")
    assert result.returncode == 0, result.stderr
    assert sha256_digest(result.stdout) == image.config_digest
    config = json.loads(result.stdout)
    assert config["config"]["Labels"] == labels
    assert config["architecture"] == "amd64"
    assert config["os"] == "linux"
    assert config["created"] == "2026-02-03T04:05:06Z"
    layer = registry.get_blob("os/labelled", image.layer_digest)
    assert config["rootfs"]["diff_ids"] == [sha256_digest(gzip.decompress(layer))]


def test_images_are_unique_unless_seeded(registry: LocalRegistry) -> None:
    first = push_image(registry, "os/seed", "a")
    second = push_image(registry, "os/seed", "b")
    assert first.digest != second.digest
    seeded = [push_image(registry, "os/seed", f"s{n}", seed="fixed") for n in range(2)]
    assert seeded[0].digest == seeded[1].digest


def test_skopeo_reads_index_exactly(registry: LocalRegistry) -> None:
    index = push_index(registry, "os/multi", "v1", labels={"a": "b"}, tag_platforms=True)
    result = inspect_raw(f"{registry.host}/os/multi:v1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == index.manifest
    assert sha256_digest(result.stdout) == index.digest
    document = json.loads(result.stdout)
    assert document["mediaType"] == OCI_INDEX == index.media_type
    platforms = [(m["platform"]["architecture"], m["digest"]) for m in document["manifests"]]
    assert platforms == [(i.architecture, i.digest) for i in index.images]
    assert [i.architecture for i in index.images] == ["amd64", "arm64"]
    arm = inspect_raw(f"{registry.host}/os/multi:v1-arm64")
    assert sha256_digest(arm.stdout) == index.images[1].digest


@pytest.mark.parametrize("style", ["oras-1.1", "legacy"])
def test_skopeo_reads_disk_artifact_exactly(registry: LocalRegistry, style: ArtifactStyle) -> None:
    raw = b"\0" * 4096
    files = [
        DiskFile("boot.img.gz", gzip.compress(raw, mtime=0), partition="boot_a"),
        DiskFile("system.img.gz", b"system", partition="system_a", decompressed_size=len(raw)),
    ]
    annotations = {
        "automotive.sdv.cloud.redhat.com/distro": "autosd",
        "automotive.sdv.cloud.redhat.com/target": "ridesx4",
        "automotive.sdv.cloud.redhat.com/arch": "aarch64",
    }
    artifact = push_disk_artifact(registry, "os/disk", style, files, annotations, style=style)
    result = inspect_raw(f"{registry.host}/os/disk:{style}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == artifact.manifest
    assert sha256_digest(result.stdout) == artifact.digest
    manifest = json.loads(result.stdout)
    assert manifest["config"]["digest"] == EMPTY_JSON_DIGEST
    assert manifest["config"]["size"] == 2
    if style == "oras-1.1":
        assert manifest["artifactType"] == DISK_ARTIFACT_RAW == artifact.artifact_type
        assert manifest["config"]["mediaType"] == OCI_EMPTY
    else:
        assert "artifactType" not in manifest
        assert manifest["config"]["mediaType"] == UNKNOWN_CONFIG
    for key, value in annotations.items():
        assert manifest["annotations"][key] == value
    layer_notes = [layer["annotations"] for layer in manifest["layers"]]
    assert layer_notes[0] == {ANNOTATION_TITLE: "boot.img.gz", ANNOTATION_PARTITION: "boot_a"}
    assert layer_notes[1][ANNOTATION_DECOMPRESSED_SIZE] == "4096"
    for layer, file in zip(artifact.layers, files, strict=True):
        assert layer.digest == "sha256:" + hashlib.sha256(file.data).hexdigest()
        assert registry.get_blob("os/disk", layer.digest) == file.data


def test_deleted_manifest_is_unknown_to_skopeo(registry: LocalRegistry) -> None:
    image = push_image(registry, "os/vanishing", "v1")
    assert inspect_raw(image.ref).returncode == 0
    registry.delete_manifest("os/vanishing", image.digest)
    for ref in (image.ref, image.tag_ref):
        result = inspect_raw(ref)
        assert result.returncode == 1
        assert b"manifest unknown" in result.stderr


# -- authentication ------------------------------------------------------------------------------


def test_htpasswd_registry_demands_credentials(auth_registry: LocalRegistry) -> None:
    anonymous = auth_registry.request("GET", "/v2/", auth=False)
    assert anonymous.status == 401
    assert "Basic" in (anonymous.headers.get("WWW-Authenticate") or "")
    assert auth_registry.request("GET", "/v2/").status == 200


def test_skopeo_with_authfile(auth_registry: LocalRegistry, tmp_path: Path) -> None:
    image = push_image(auth_registry, "private/os", "v1")
    good = write_authfile(tmp_path / "good.json", auth_registry.host, USER, PASSWORD)
    result = inspect_raw(image.tag_ref, "--authfile", str(good))
    assert result.returncode == 0, result.stderr
    assert sha256_digest(result.stdout) == image.digest

    bad = write_authfile(tmp_path / "bad.json", auth_registry.host, USER, "wrong")
    result = inspect_raw(image.tag_ref, "--authfile", str(bad))
    assert result.returncode == 1
    assert b"unauthorized" in result.stderr


# -- lifecycle -----------------------------------------------------------------------------------


def test_stop_refuses_connections_and_restart_serves_old_content() -> None:
    require_tools("docker-registry")
    with LocalRegistry() as reg:
        image = push_image(reg, "os/outage", "v1")
        port = reg.port
        reg.stop()
        reg.stop()  # idempotent
        assert not reg.running
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        reg.restart()
        assert reg.port == port
        assert reg.get_manifest("os/outage", "v1") == image.manifest
        storage = reg.storage_dir
    assert not storage.exists()
    assert not reg.running


def test_start_retries_when_a_neighbour_registry_took_the_port(
    registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe must not mistake another registry on the picked port for its own."""
    ports = iter([registry.port])
    real_pick = registry_module.pick_free_port
    monkeypatch.setattr(registry_module, "pick_free_port", lambda: next(ports, None) or real_pick())
    with LocalRegistry() as reg:
        assert reg.port != registry.port
        assert reg.running
        assert reg.request("GET", "/v2/").status == 200


def test_start_gives_up_when_every_port_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    require_tools("docker-registry")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken: int = squatter.getsockname()[1]
        monkeypatch.setattr(registry_module, "pick_free_port", lambda: taken)
        reg = LocalRegistry()
        try:
            with pytest.raises(RegistryError, match="no free port") as caught:
                reg.start()
            assert "address already in use" in str(caught.value.__cause__)
            assert not reg.running
        finally:
            reg.close()
