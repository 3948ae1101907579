"""`reader.auth`: credentials found where podman, skopeo and oras find them, and never shown."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from image_catalog.errors import CatalogError
from image_catalog.reader.auth import find_credentials


def auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def write(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    return tmp_path / "home"


def test_the_files_in_podmans_order(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docker = write(
        home / ".docker/config.json", {"auths": {"https://quay.io/v1/": {"auth": auth("d", "1")}}}
    )
    assert find_credentials("quay.io", "org/repo").credentials.source == docker  # type: ignore[union-attr]
    config = write(
        home / ".config/containers/auth.json", {"auths": {"quay.io": {"auth": auth("c", "2")}}}
    )
    assert find_credentials("quay.io", "org/repo").credentials.source == config  # type: ignore[union-attr]
    runtime = write(
        tmp_path / "run/containers/auth.json", {"auths": {"quay.io": {"auth": auth("r", "3")}}}
    )
    found = find_credentials("quay.io", "org/repo")
    assert found.credentials is not None
    assert (found.credentials.username, found.credentials.source) == ("r", runtime)
    named = write(tmp_path / "env.json", {"auths": {}})
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(named))
    assert find_credentials("quay.io", "org/repo").credentials is None  # only that file
    given = write(tmp_path / "given.json", {"auths": {"quay.io": {"auth": auth("g", "4")}}})
    assert find_credentials("quay.io", "org/repo", given).credentials.username == "g"  # type: ignore[union-attr]


def test_the_longest_repository_key_wins(home: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "a.json", {"auths": {
        "quay.io": {"auth": auth("host", "1")},
        "quay.io/org": {"auth": auth("org", "2")},
        "quay.io/org/repo": {"auth": auth("repo", "3")},
        "quay.io/other": {"auth": auth("other", "4")},
    }})  # fmt: skip
    users = [find_credentials("quay.io", r, path).credentials for r in ("org/repo", "org/x", "y")]
    assert [u.username for u in users if u] == ["repo", "org", "host"]


def test_the_password_never_shows(home: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "a.json", {"auths": {"h:5000": {"auth": auth("u", "s3cret")}}})
    found = find_credentials("h:5000", "r", path)
    assert found.credentials is not None
    assert found.credentials.password == "s3cret"
    assert "s3cret" not in repr(found) + found.describe()
    assert found.describe() == f"credentials from {path}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "the auth file is not valid JSON"),
        ("[]", "the auth file is not a JSON object"),
        (
            '{"auths": {"h": {"auth": "@@@"}}}',
            "the `auth` value for h is not base64 of user:password",
        ),
        ('{"auths": {"h": {"identitytoken": "x"}}}', "the entry for h has no `auth` value"),
    ],
)
def test_a_file_that_cannot_be_used(home: Path, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "a.json"
    path.write_text(content)
    with pytest.raises(CatalogError, match="^" + str(path).replace(".", r"\.") + ": ") as caught:
        find_credentials("h", "r", path)
    assert message in str(caught.value)


def test_a_named_file_must_exist_a_default_one_may_not(home: Path, tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="the auth file does not exist"):
        find_credentials("h", "r", tmp_path / "missing.json")
    found = find_credentials("h", "r")
    assert (found.credentials, found.searched) == (None, ())
    assert found.describe() == "no auth file found"


def test_a_helper_is_named_only_as_a_note(home: Path) -> None:
    path = write(home / ".docker/config.json", {"credHelpers": {"h": "ecr-login"}})
    found = find_credentials("h", "r")
    assert found.credentials is None
    assert found.helper == path
    assert "credential helper (credHelpers or credsStore)" in found.describe()
