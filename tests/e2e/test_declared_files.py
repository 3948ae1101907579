"""A registry declaration names files on the machine (`caFile`, an `authFile`'s path, a
`tokenPath`): when one is missing or not a regular file, every command that reads it ends with
exit 1 (the catalog or the machine is wrong) and a message naming the registry file, the field and
the path, never exit 4 (retry), and writes nothing. `check` and `publish` stop there; `validate`
reports it as a problem of the declaration (file, line and field) and checks the other
registries' entries.

The registry is a closed loopback port: the file is read before any registry is contacted.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.catalogs import empty_catalog, registry_manifest
from support.confined import assert_refused, run_confined
from support.examples import Example, read_example
from support.paths import EXAMPLES

HOST = "127.0.0.1:9"


def _declared(catalog: Path, field: str, path: Path) -> None:
    if field == "spec.caFile":
        text = registry_manifest("local", HOST) + f"  caFile: '{path}'\n"
    elif field == "spec.auth.path":
        text = registry_manifest("local", HOST, {"method": "authFile", "path": str(path)})
    else:
        auth = {"method": "serviceAccountToken", "tokenPath": str(path)}
        text = registry_manifest("local", HOST, auth)
    empty_catalog(catalog, {"local": text})
    image = read_example(EXAMPLES / "valid" / "autosd9-qemu-1.0.yaml")
    body = image.body.replace(b"quay.io/", f"{HOST}/".encode())
    Example(image.name, image.place, body, ()).install(catalog)


def _bad_file(tmp_path: Path, kind: str) -> tuple[Path, str]:
    path = tmp_path / f"declared-{kind}"
    if kind == "folder":
        path.mkdir()
        return path, "is a folder, not a regular file"
    if kind == "fifo":
        os.mkfifo(path)
        return path, "is a FIFO (named pipe), not a regular file"
    return path, "it does not exist"


def _written(root: Path) -> list[Path]:
    """What a command wrote, but for the offline validation cache (which it may keep)."""
    found = (p.relative_to(root) for p in root.rglob("*"))
    return sorted(p for p in found if p.parts[0] != ".cache")


_WHAT = {
    "spec.caFile": "the CA file",
    "spec.auth.path": "the auth file",
    "spec.auth.tokenPath": "the service-account token file",
}
_COMMANDS = {
    "validate": ["validate", "--online", "--catalog", "catalog"],
    "check": ["check", "--catalog", "catalog", "--out", "status.json"],
    "publish": ["publish", "image", f"{HOST}/automotive/new:1", "--catalog", "catalog"],
}


@pytest.mark.parametrize("kind", ["missing", "folder", "fifo"])
@pytest.mark.parametrize("command", list(_COMMANDS))
@pytest.mark.parametrize("field", list(_WHAT))
def test_a_declared_file_that_cannot_be_used_is_exit_1_naming_file_field_and_path(
    tmp_path: Path, field: str, command: str, kind: str
) -> None:
    path, reason = _bad_file(tmp_path, kind)
    _declared(tmp_path / "catalog", field, path)
    before = _written(tmp_path)
    done = run_confined(_COMMANDS[command], cwd=tmp_path, timeout=60)
    said = f"{_WHAT[field]} {path} of registry local ({HOST}) cannot be used ({reason})"
    if command == "validate":
        assert_refused(done, 1, f"{field}: {said}")
        assert "catalog/registries/local.yaml:" in done.stdout
        assert "(1 entry on it not checked: autosd9-qemu@1.0)" in done.stdout
        assert "hint: registry local names a file this machine does not have" in done.stdout
    else:
        assert_refused(done, 1, f"registries/local.yaml: {field}: {said}")
    assert _written(tmp_path) == before  # no status, no entry
