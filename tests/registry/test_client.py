"""The registry client against real registries on loopback.

Everything here talks to Debian's docker-registry through the real skopeo. A fake `skopeo` script is
used only where a real registry cannot produce the condition (a hung process, a 5xx answer, a
message that leaks a secret) or to look at what the real skopeo receives (a wrapper that records its
own command line and environment, then execs the real binary).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from image_catalog.errors import CatalogError, ExitCode, RegistryUnavailable
from image_catalog.manifest.model import API_VERSION, Registry
from image_catalog.manifest.reference import Reference
from image_catalog.registry.client import RegistryClient
from image_catalog.registry.errors import (
    DeclaredFileUnusable,
    DigestMismatch,
    ManifestNotFound,
    RegistryFailure,
    SkopeoNotFound,
    TlsFailure,
    Unauthorized,
    Unreachable,
)
from image_catalog.registry.oci import DOCKER_LIST, DOCKER_MANIFEST, ManifestKind
from image_catalog.registry.skopeo import classify, skopeo_detail
from support.oci import (
    DISK_ARTIFACT_RAW,
    OCI_INDEX,
    OCI_MANIFEST,
    UNKNOWN_CONFIG,
    ArtifactStyle,
    DiskFile,
    canonical_json,
    push_disk_artifact,
    push_image,
    push_index,
)
from support.registry import (
    REGISTRY_PASSWORD,
    LocalRegistry,
    make_htpasswd,
    require_tools,
    sha256_digest,
    write_authfile,
)

pytestmark = pytest.mark.registry

USER = "serviceaccount"


def registry_model(name: str, host: str, **spec: Any) -> Registry:
    """A Registry as a catalog file would declare it; loopback registries speak plain HTTP."""
    return Registry.model_validate(
        {
            "apiVersion": API_VERSION,
            "kind": "Registry",
            "metadata": {"name": name},
            "spec": {"kind": "generic", "host": host, "tlsVerify": False, **spec},
        }
    )


def client_for(*registries: Registry, **options: Any) -> RegistryClient:
    options.setdefault("backoff", 0.01)
    return RegistryClient(registries, **options)


@pytest.fixture
def local(registry: LocalRegistry) -> Iterator[RegistryClient]:
    with client_for(registry_model("local", registry.host)) as client:
        yield client


def write_script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


@pytest.fixture
def spy(tmp_path: Path) -> Path:
    """A skopeo wrapper that records what the real skopeo receives, then becomes it (exec)."""
    real = shutil.which("skopeo")
    assert real is not None
    logs = tmp_path / "spy"
    logs.mkdir()
    return write_script(
        tmp_path / "skopeo-spy",
        f"""log="{logs}/$$"
tr '\\0' '\\n' < /proc/$$/cmdline > "$log.cmdline"
tr '\\0' '\\n' < /proc/$$/environ > "$log.environ"
previous=""
for arg in "$@"; do
  if [ "$previous" = --authfile ]; then
    readlink "$arg" > "$log.authlink"
    cp "$arg" "$log.authfile"
  fi
  if [ "$previous" = --cert-dir ]; then ls "$arg" > "$log.certs"; cp "$arg/ca.crt" "$log.ca"; fi
  previous="$arg"
done
exec {real} "$@"
""",
    )


def spied(spy: Path, suffix: str) -> list[str]:
    """What the spy recorded, one entry per skopeo call."""
    return [p.read_text() for p in sorted((spy.parent / "spy").glob(f"*.{suffix}"))]


# --- reading manifests --------------------------------------------------------------------------


def test_image_by_tag_and_by_digest(registry: LocalRegistry, local: RegistryClient) -> None:
    labels = {"org.opencontainers.image.version": "1.2.3"}
    image = push_image(
        registry, "reg/image", "v1", "arm64", labels=labels, created="2026-02-03T04:05:06Z"
    )
    info = local.inspect(image.tag_ref)
    assert local.calls == 2  # the manifest, then the config
    assert info.digest == image.digest == sha256_digest(image.manifest)
    assert (info.kind, info.media_type, info.size) == (ManifestKind.IMAGE, OCI_MANIFEST, image.size)
    assert (info.architecture, info.os, info.created) == ("arm64", "linux", "2026-02-03T04:05:06Z")
    assert info.labels == labels
    assert info.reference == Reference(registry.host, "reg/image", "v1")
    assert info.pinned() == image.ref
    assert info.layers[0].digest == image.layer_digest

    by_digest = local.inspect(image.ref, config=False)
    assert local.calls == 3
    assert by_digest.digest == image.digest
    assert (by_digest.architecture, by_digest.labels) == (None, {})


def test_index_lists_its_platforms_in_one_call(
    registry: LocalRegistry, local: RegistryClient
) -> None:
    index = push_index(registry, "reg/multi", "v1")
    info = local.inspect(index.tag_ref)
    assert local.calls == 1  # an index has no config
    assert (info.kind, info.media_type, info.digest) == (
        ManifestKind.INDEX,
        OCI_INDEX,
        index.digest,
    )
    assert [(p.architecture, p.os, p.digest) for p in info.platforms] == [
        (i.architecture, "linux", i.digest) for i in index.images
    ]
    assert str(info.platforms[1]) == "linux/arm64"


@pytest.mark.parametrize("style", ["oras-1.1", "legacy"])
def test_disk_artifact_layers_and_annotations(
    registry: LocalRegistry, local: RegistryClient, style: ArtifactStyle
) -> None:
    files = [
        DiskFile("boot.img.gz", b"boot-" + style.encode(), partition="boot_a"),
        DiskFile("root.img.gz", b"root", partition="root_a", decompressed_size=4096),
    ]
    notes = {"automotive.sdv.cloud.redhat.com/distro": "autosd"}
    artifact = push_disk_artifact(registry, "reg/disk", style, files, notes, style=style)
    info = local.inspect(artifact.tag_ref)  # config=True, yet artifacts have no config to read
    assert local.calls == 1
    assert info.kind is ManifestKind.ARTIFACT
    assert info.digest == artifact.digest
    assert info.artifact_type == (DISK_ARTIFACT_RAW if style == "oras-1.1" else UNKNOWN_CONFIG)
    assert info.annotations["automotive.sdv.cloud.redhat.com/distro"] == "autosd"
    assert [(x.title, x.partition, x.decompressed_size) for x in info.layers] == [
        ("boot.img.gz", "boot_a", None),
        ("root.img.gz", "root_a", 4096),
    ]
    assert [(x.digest, x.size) for x in info.layers] == [
        (x.digest, x.size) for x in artifact.layers
    ]


def test_docker_v2_manifest_and_list(registry: LocalRegistry, local: RegistryClient) -> None:
    config = canonical_json({"architecture": "amd64", "os": "linux", "config": {"Labels": None}})
    layer = b"not really a tar"
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": registry.push_blob("reg/docker", config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "digest": registry.push_blob("reg/docker", layer),
                    "size": len(layer),
                }
            ],
        }
    )
    digest = registry.push_manifest("reg/docker", "image", manifest, DOCKER_MANIFEST)
    listing = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_LIST,
            "manifests": [
                {
                    "mediaType": DOCKER_MANIFEST,
                    "digest": digest,
                    "size": len(manifest),
                    "platform": {"architecture": "arm", "os": "linux", "variant": "v7"},
                }
            ],
        }
    )
    registry.push_manifest("reg/docker", "list", listing, DOCKER_LIST)

    image = local.inspect(f"{registry.host}/reg/docker:image")
    assert (image.kind, image.media_type, image.architecture) == (
        ManifestKind.IMAGE,
        DOCKER_MANIFEST,
        "amd64",
    )
    assert image.labels == {}
    index = local.inspect(f"{registry.host}/reg/docker:list")
    assert (index.kind, index.media_type) == (ManifestKind.INDEX, DOCKER_LIST)
    assert str(index.platforms[0]) == "linux/arm/v7"


def test_moved_tag_gives_the_new_digest_and_the_old_one_still_resolves(
    registry: LocalRegistry, local: RegistryClient
) -> None:
    old = push_image(registry, "reg/moving", "stable")
    new = push_image(registry, "reg/moving", "stable")
    assert local.inspect(old.tag_ref, config=False).digest == new.digest
    assert local.inspect(old.ref, config=False).digest == old.digest


# --- classified failures ------------------------------------------------------------------------


def test_deleted_manifest_is_not_found_and_not_retried(
    registry: LocalRegistry, local: RegistryClient
) -> None:
    image = push_image(registry, "reg/vanishing", "v1")
    registry.delete_manifest("reg/vanishing", image.digest)
    with pytest.raises(ManifestNotFound) as caught:
        local.inspect(image.ref)
    assert local.calls == 1
    error = caught.value
    assert error.exit_code == ExitCode.INVALID
    assert (error.registry, error.host, error.reference) == ("local", registry.host, image.ref)
    assert str(error).startswith(f"{image.ref} was not found in registry local ({registry.host}): ")
    assert "manifest unknown" in str(error)
    assert "Error parsing image name" not in str(error)


def test_stopped_registry_is_unreachable_after_retries(own_registry: LocalRegistry) -> None:
    image = push_image(own_registry, "reg/outage", "v1")
    own_registry.stop()
    with client_for(registry_model("own", own_registry.host), retries=2) as client:
        with pytest.raises(Unreachable) as caught:
            client.inspect(image.ref)
        assert client.calls == 3
    assert isinstance(caught.value, RegistryUnavailable)
    assert caught.value.exit_code == ExitCode.UNAVAILABLE
    assert f"registry own ({own_registry.host}) could not be reached for {image.ref}" in str(
        caught.value
    )
    assert "(after 3 attempts)" in str(caught.value)
    assert "connection refused" in str(caught.value)


def test_plain_http_registry_with_tls_verification_is_a_tls_failure(
    registry: LocalRegistry,
) -> None:
    image = push_image(registry, "reg/tls", "v1")
    with (
        client_for(registry_model("strict", registry.host, tlsVerify=True)) as client,
        pytest.raises(TlsFailure, match="server gave HTTP response to HTTPS client") as caught,
    ):
        client.inspect(image.ref)
    assert "spec.tlsVerify: false" in str(caught.value)
    assert caught.value.exit_code == ExitCode.UNAVAILABLE


def test_ca_file_reaches_skopeo_as_a_cert_dir(
    registry: LocalRegistry, spy: Path, tmp_path: Path
) -> None:
    image = push_image(registry, "reg/ca", "v1")
    ca = tmp_path / "corporate-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n(test)\n-----END CERTIFICATE-----\n")
    declared = registry_model("ca", registry.host, caFile=str(ca))
    with client_for(declared, skopeo=str(spy)) as client:
        client.inspect(image.ref, config=False)
    assert spied(spy, "certs") == ["ca.crt\n"]
    assert spied(spy, "ca") == [ca.read_text()]
    with (
        client_for(registry_model("ca", registry.host, caFile=str(tmp_path / "nope"))) as client,
        pytest.raises(
            DeclaredFileUnusable, match=r"the CA file .*nope of registry ca .* cannot be used"
        ),
    ):
        client.inspect(image.ref)


def test_undeclared_host_is_refused(local: RegistryClient) -> None:
    with pytest.raises(CatalogError, match=r"host 'quay\.io' is not a declared registry"):
        local.inspect("quay.io/automotive/image:v1")
    assert local.calls == 0


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("reading manifest v1 in h/r: manifest unknown: manifest unknown", ManifestNotFound),
        ("reading manifest v1 in h/r: name unknown: repository name not known", ManifestNotFound),
        ("reading manifest v1 in h/r: unauthorized: authentication required", Unauthorized),
        ("reading manifest v1 in h/r: denied: requested access is denied", Unauthorized),
        ('Get "https://h/v2/": dial tcp: connect: connection refused', Unreachable),
        ("dial tcp: lookup h on 10.0.0.1:53: no such host", Unreachable),
        ('Get "https://h/v2/": net/http: TLS handshake timeout', Unreachable),
        ('Get "https://h/v2/": context deadline exceeded', Unreachable),
        ('Get "https://h/v2/": x509: certificate signed by unknown authority', TlsFailure),
        ('Get "https://h/v2/": http: server gave HTTP response to HTTPS client', TlsFailure),
        ("reading manifest v1 in h/r: received unexpected HTTP status: 503", RegistryFailure),
        ("something nobody expected", RegistryFailure),
        # The reference must not decide: a repository or a tag called "denied" is just a name.
        ("reading manifest denied in h/denied/x: manifest unknown", ManifestNotFound),
    ],
)
def test_skopeo_messages_are_classified(message: str, kind: type[Exception]) -> None:
    assert classify(message, Reference("h", "denied/x")) is kind


def test_skopeo_detail_drops_the_log_framing_and_secrets() -> None:
    stderr = (
        'time="2026-01-01T00:00:00Z" level=fatal msg="Error parsing image name '
        '\\"docker://h/r:v1\\": reading manifest v1 in h/r: unauthorized: s3cret"\n'
    )
    assert skopeo_detail(stderr, ["s3cret"]) == (
        "reading manifest v1 in h/r: unauthorized: [redacted]"
    )


# --- processes: timeouts, retries, the binary ---------------------------------------------------


def test_hung_skopeo_is_killed_at_the_deadline(registry: LocalRegistry, tmp_path: Path) -> None:
    pids = tmp_path / "sleep.pid"
    hang = write_script(tmp_path / "skopeo-hang", f"sleep 30 &\necho $! > {pids}\nwait\n")
    declared = registry_model("local", registry.host)
    started = time.monotonic()
    with (
        client_for(declared, skopeo=str(hang), timeout=0.3, retries=1) as client,
        pytest.raises(Unreachable, match=r"no answer within 0\.3 s; check the network"),
    ):
        client.inspect(f"{registry.host}/reg/hang:v1")
    assert time.monotonic() - started < 5
    assert client.calls == 2  # a timeout is worth one more try
    pid = int(pids.read_text())
    state = Path(f"/proc/{pid}/stat")

    def ended() -> bool:
        # Killed with its process group: gone, or at most a zombie waiting for its new parent.
        try:
            return state.read_text().split()[2] == "Z"
        except FileNotFoundError:
            return True

    deadline = time.monotonic() + 3  # a SIGKILL lands at once, but the scheduler may lag
    while not ended() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ended()


def test_5xx_is_retried_with_backoff(registry: LocalRegistry, tmp_path: Path) -> None:
    image = push_image(registry, "reg/flaky", "v1")
    real = shutil.which("skopeo")
    counter = tmp_path / "count"
    flaky = write_script(
        tmp_path / "skopeo-flaky",
        f"""n=$(cat {counter} 2>/dev/null || echo 0); n=$((n + 1)); echo $n > {counter}
if [ "$n" -le 2 ]; then
  echo 'msg="reading manifest v1 in h/r: unexpected HTTP status: 503 Service Unavailable"' >&2
  exit 1
fi
exec {real} "$@"
""",
    )
    declared = registry_model("local", registry.host)
    with client_for(declared, skopeo=str(flaky), retries=3) as client:
        assert client.inspect(image.ref, config=False).digest == image.digest
        assert client.calls == 3
    counter.unlink()
    with (
        client_for(declared, skopeo=str(flaky), retries=1) as client,
        pytest.raises(RegistryFailure, match=r"\(after 2 attempts\): .*503 Service Unavailable"),
    ):
        client.inspect(image.ref)


def test_bytes_that_do_not_hash_to_the_pinned_digest_are_refused(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    liar = write_script(tmp_path / "skopeo-liar", "printf '{}'\n")
    pinned = f"{registry.host}/reg/liar@sha256:{'0' * 64}"
    with (
        client_for(registry_model("local", registry.host), skopeo=str(liar)) as client,
        pytest.raises(DigestMismatch, match="served bytes hashing to sha256:44136fa3"),
    ):
        client.inspect(pinned)


def test_at_most_max_concurrency_processes_per_registry(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    running = tmp_path / "running"
    running.mkdir()
    peak = tmp_path / "peak"
    slow = write_script(
        tmp_path / "skopeo-slow",
        f"""touch {running}/$$; ls {running} | wc -l >> {peak}; sleep 0.2; rm {running}/$$
echo 'msg="manifest unknown"' >&2; exit 1
""",
    )
    declared = registry_model("local", registry.host, maxConcurrency=2)
    with client_for(declared, skopeo=str(slow)) as client:

        def probe(n: int) -> None:
            with pytest.raises(ManifestNotFound):
                client.inspect(f"{registry.host}/reg/slow:v{n}")

        threads = [threading.Thread(target=probe, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert client.calls == 6
    assert max(int(line) for line in peak.read_text().split()) == 2


def test_missing_skopeo_says_how_to_install_it(
    registry: LocalRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    declared = registry_model("local", registry.host)
    with pytest.raises(SkopeoNotFound, match="install skopeo: apt-get install skopeo"):
        RegistryClient([declared], skopeo=str(tmp_path / "no-skopeo"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SkopeoNotFound, match=r"skopeo \(skopeo\) was not found on PATH") as caught:
        RegistryClient([declared])
    assert caught.value.exit_code == ExitCode.UNAVAILABLE


# --- authentication -----------------------------------------------------------------------------


def test_environment_credentials(
    auth_registry: LocalRegistry, spy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = push_image(auth_registry, "auth/env", "v1")
    auth = {"method": "environment", "usernameVariable": "REG_USER", "passwordVariable": "REG_PW"}
    declared = registry_model("private", auth_registry.host, auth=auth)
    monkeypatch.setenv("REG_USER", USER)
    monkeypatch.setenv("REG_PW", REGISTRY_PASSWORD)
    with client_for(declared, skopeo=str(spy)) as client:
        assert client.inspect(image.ref).digest == image.digest
    # Through the auth file only: never in skopeo's arguments or environment.
    for text in spied(spy, "cmdline") + spied(spy, "environ"):
        assert REGISTRY_PASSWORD not in text
    assert all("REG_PW" not in text for text in spied(spy, "environ"))
    assert len(spied(spy, "authfile")) == 2

    monkeypatch.setenv("REG_PW", "wrong-password")
    with client_for(declared) as client, pytest.raises(Unauthorized) as caught:
        client.inspect(image.ref)
    assert f"registry private ({auth_registry.host}) refused access to {image.ref}" in str(
        caught.value
    )
    assert "check REG_USER and REG_PW" in str(caught.value)
    assert "wrong-password" not in str(caught.value)

    monkeypatch.delenv("REG_PW")
    with client_for(declared) as client, pytest.raises(Unauthorized, match="REG_PW is not set"):
        client.inspect(image.ref)
    assert client.calls == 0


def test_auth_file_credentials(auth_registry: LocalRegistry, tmp_path: Path) -> None:
    image = push_image(auth_registry, "auth/file", "v1")
    path = write_authfile(tmp_path / "auth.json", auth_registry.host, USER, REGISTRY_PASSWORD)
    auth = {"method": "authFile", "path": str(path)}
    with client_for(registry_model("private", auth_registry.host, auth=auth)) as client:
        assert client.inspect(image.ref).digest == image.digest
    missing = {"method": "authFile", "path": str(tmp_path / "missing.json")}
    with (
        client_for(registry_model("private", auth_registry.host, auth=missing)) as client,
        pytest.raises(DeclaredFileUnusable, match=r"missing\.json of .* \(it does not exist\)"),
    ):
        client.inspect(image.ref)


def test_anonymous_access_to_a_private_registry_is_unauthorized(
    auth_registry: LocalRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = push_image(auth_registry, "auth/anonymous", "v1")
    # Ambient credentials must not leak in: the Registry file alone says how to authenticate.
    ambient = write_authfile(tmp_path / "ambient.json", auth_registry.host, USER, REGISTRY_PASSWORD)
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(ambient))
    with (
        client_for(registry_model("private", auth_registry.host)) as client,
        pytest.raises(Unauthorized, match=r"the registry wants credentials: set spec\.auth in"),
    ):
        client.inspect(image.ref)


def _token_registry(host: str, token_file: Path) -> Registry:
    auth = {"method": "serviceAccountToken", "tokenPath": str(token_file)}
    return registry_model("openshift", host, auth=auth)


def test_service_account_token_is_read_at_every_call(tmp_path: Path) -> None:
    """The kubelet rotates the token: the next call must use the new one, and the old one fails."""
    require_tools("skopeo", "docker-registry", "htpasswd")
    old, new = "sha256~old-token-0123456789", "sha256~new-token-9876543210"
    token_file = tmp_path / "token"
    with LocalRegistry(USER, old) as private:
        image = push_image(private, "auth/token", "v1")
        with client_for(_token_registry(private.host, token_file)) as client:
            token_file.write_text(old + "\n")
            assert client.inspect(image.ref, config=False).digest == image.digest
            # Rotation: the registry now accepts only the new token (htpasswd is read at start).
            htpasswd = make_htpasswd(USER, new)
            (private.storage_dir.parent / "htpasswd").write_text(htpasswd)
            private.restart()
            token_file.write_text(new + "\n")
            assert client.inspect(image.ref, config=False).digest == image.digest
            token_file.write_text(old + "\n")
            with pytest.raises(Unauthorized, match="system:image-puller") as caught:
                client.inspect(image.ref, config=False)
            assert old not in str(caught.value)
            token_file.unlink()
            with pytest.raises(DeclaredFileUnusable, match=r"token file .*token of .* cannot be"):
                client.inspect(image.ref, config=False)


def test_token_never_reaches_argv_environment_or_messages(
    auth_registry: LocalRegistry, spy: Path, tmp_path: Path
) -> None:
    image = push_image(auth_registry, "auth/secret", "v1")
    token_file = tmp_path / "token"
    token_file.write_text(REGISTRY_PASSWORD)
    encoded = base64.b64encode(f"{USER}:{REGISTRY_PASSWORD}".encode()).decode()
    declared = _token_registry(auth_registry.host, token_file)
    with client_for(declared, skopeo=str(spy)) as client:
        assert client.inspect(image.ref).digest == image.digest
        assert client.private_folder is None  # nothing was written to disk

    cmdlines = spied(spy, "cmdline")
    assert len(cmdlines) == 2
    for text in cmdlines + spied(spy, "environ"):
        assert REGISTRY_PASSWORD not in text
        assert encoded not in text
    assert all("--authfile" in text and "--creds" not in text for text in cmdlines)
    # The token went through a memfd, which has no name on disk and dies with its last holder.
    assert all(re.search(r"--authfile\n/proc/self/fd/\d+\n", text) for text in cmdlines)
    assert spied(spy, "authlink") == ["/memfd:image-catalog-auth (deleted)\n"] * 2
    auth = json.loads(spied(spy, "authfile")[0])["auths"][auth_registry.host]["auth"]
    assert base64.b64decode(auth).decode() == f"{USER}:{REGISTRY_PASSWORD}"


def test_secret_in_a_skopeo_message_is_scrubbed(
    auth_registry: LocalRegistry, tmp_path: Path
) -> None:
    """Defensive: even a skopeo that printed the credentials would not leak them through us."""
    leaky = write_script(
        tmp_path / "skopeo-leaky",
        """for arg in "$@"; do [ "$previous" = --authfile ] && file="$arg"; previous="$arg"; done
encoded=$(sed 's/.*"auth": *"\\([^"]*\\)".*/\\1/' "$file")
echo "time=\\"x\\" level=fatal msg=\\"unauthorized: $encoded $(echo "$encoded" | base64 -d)\\"" >&2
exit 1
""",
    )
    token_file = tmp_path / "token"
    token_file.write_text(REGISTRY_PASSWORD)
    declared = _token_registry(auth_registry.host, token_file)
    with (
        client_for(declared, skopeo=str(leaky)) as client,
        pytest.raises(Unauthorized) as caught,
    ):
        client.inspect(f"{auth_registry.host}/auth/leaky:v1")
    text = str(caught.value) + caught.value.detail
    assert "unauthorized: [redacted] serviceaccount:[redacted]" in text
    assert REGISTRY_PASSWORD not in text
    assert base64.b64encode(f"{USER}:{REGISTRY_PASSWORD}".encode()).decode() not in text


def test_close_removes_the_private_folder(registry: LocalRegistry, tmp_path: Path) -> None:
    ca = tmp_path / "corporate-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n(test)\n-----END CERTIFICATE-----\n")
    client = client_for(registry_model("ca", registry.host, caFile=str(ca)))
    image = push_image(registry, "reg/close", "v1")
    client.inspect(image.ref, config=False)
    private = client.private_folder
    assert private is not None
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o700
    client.close()
    client.close()  # idempotent
    assert not private.exists()
    with pytest.raises(RegistryFailure, match="closed"):
        client.inspect(image.ref)
