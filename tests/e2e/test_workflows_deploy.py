"""The one deploy path: deploy-site.yml (running tool/deploy-site.sh) is the only way to Pages.

The workflows are read as YAML: no job deploys Pages except deploy-site.yml's, and both
publish-index.yml and check.yml call it with the signing key. The script is run as the build
step runs it, against a real catalog in a git repository with throwaway keys made by ssh-keygen;
a site that does not verify (a changed file, a key allowed_signers does not list, a missing
signature) is refused and removed, so nothing unverified can be uploaded.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.git import GitWork
from support.keys import allowed_signers, make_key
from support.paths import REPO
from support.registry import require_tools
from support.site import SiteServer
from support.workflows import (
    DEPLOY_SCRIPT,
    DEPLOY_STEP,
    DEPLOY_WORKFLOW,
    WORKFLOWS,
    check_out_deploy_script,
    run_step,
    step,
    workflow,
)

pytestmark = pytest.mark.usefixtures("isolated_reader")

FILES = tuple(sorted(p.name for p in WORKFLOWS.glob("*.y*ml")))
CALL = f"./.github/workflows/{DEPLOY_WORKFLOW}"
# Actions that put a site on GitHub Pages (or its gh-pages branch).
PAGES_ACTIONS = {
    "actions/deploy-pages",
    "actions/upload-pages-artifact",
    "peaceiris/actions-gh-pages",
    "JamesIves/github-pages-deploy-action",
}
GOOD = 'Good "image-catalog-index" signature for catalog with ED25519 key SHA256:'
CALLER_PERMISSIONS = {"contents": "read", "pages": "write", "id-token": "write"}


# --- the workflows, read as data ------------------------------------------------------------


def pages_deployers() -> set[tuple[str, str, str]]:
    """(file, job, how) for every job anywhere that deploys Pages or may write to it."""
    found = set()
    for name in FILES:
        for job_id, job in workflow(name)["jobs"].items():
            if "write" in str(job.get("permissions", {}).get("pages", "")):
                found.add((name, job_id, job.get("uses", "pages: write")))
            for each in job.get("steps", []):
                action = each.get("uses", "").split("@")[0]
                if action in PAGES_ACTIONS:
                    found.add((name, job_id, action))
                if "gh-pages" in each.get("run", "") + str(each.get("with", "")):
                    found.add((name, job_id, "gh-pages"))
    return found


def test_only_deploy_site_deploys_pages() -> None:
    assert pages_deployers() == {
        (DEPLOY_WORKFLOW, "build", "actions/upload-pages-artifact"),
        (DEPLOY_WORKFLOW, "deploy", "pages: write"),
        (DEPLOY_WORKFLOW, "deploy", "actions/deploy-pages"),
        ("publish-index.yml", "deploy", CALL),
        ("check.yml", "deploy", CALL),
    }
    for name in FILES:
        assert "gh-pages" not in (WORKFLOWS / name).read_text(), name


def callers() -> dict[str, dict[str, Any]]:
    return {
        name: job
        for name in FILES
        for job in workflow(name)["jobs"].values()
        if job.get("uses") == CALL
    }


def test_publish_index_and_check_call_the_one_path_with_the_signing_key() -> None:
    found = callers()
    assert set(found) == {"publish-index.yml", "check.yml"}
    for name, job in found.items():
        # Without the secret the hourly check would publish an unsigned site over a signed one.
        assert job["secrets"] == {"INDEX_SIGNING_KEY": "${{ secrets.INDEX_SIGNING_KEY }}"}, name
        assert job["permissions"] == CALLER_PERMISSIONS, name
    assert "with" not in found["publish-index.yml"]  # the published status is carried over
    check = workflow("check.yml")["jobs"]
    assert found["check.yml"]["with"] == {"status-artifact": "status"}
    assert found["check.yml"]["needs"] == "merge"
    upload = [s for s in check["merge"]["steps"] if s.get("uses", "").startswith("actions/upload-")]
    assert [(s["with"]["name"], s["with"]["path"]) for s in upload] == [("status", "status.json")]


def test_deploy_site_workflow_shape() -> None:
    document = workflow(DEPLOY_WORKFLOW)
    call = document["on"]["workflow_call"]
    assert list(document["on"]) == ["workflow_call"]
    assert call["inputs"]["status-artifact"]["default"] == ""
    assert list(call["secrets"]) == ["INDEX_SIGNING_KEY"]
    assert call["secrets"]["INDEX_SIGNING_KEY"]["required"] is False
    assert document["permissions"] == {"contents": "read"}
    # The whole build and deploy in one group: never two at once, none cancelled while running.
    assert document["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    build, deploy = document["jobs"]["build"], document["jobs"]["deploy"]
    assert build["permissions"] == {"contents": "read"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]
    uses = [s.get("uses", "run").split("@")[0] for s in build["steps"]]
    assert uses[-2:] == ["run", "actions/upload-pages-artifact"]  # verified just before upload
    assert build["steps"][-2]["name"] == DEPLOY_STEP
    built = step(DEPLOY_WORKFLOW, DEPLOY_STEP)
    assert f"bash {DEPLOY_SCRIPT} build " in built["run"]
    assert build["steps"][-1]["with"] == {"path": "site"}
    assert build["steps"][0]["with"]["fetch-depth"] == 0


def test_no_caller_holds_the_pages_group_itself() -> None:
    """A caller in the group its call needs would wait for itself: GitHub cancels the run."""
    for name in FILES:
        document = workflow(name)
        groups = [document.get("concurrency", {})] + [
            j.get("concurrency", {}) for j in document["jobs"].values()
        ]
        held = [g for g in groups if isinstance(g, dict) and g.get("group") == "pages"]
        assert len(held) == (1 if name == DEPLOY_WORKFLOW else 0), name


def test_the_deploy_script_passes_shellcheck() -> None:
    require_tools("shellcheck")
    done = subprocess.run(
        ["shellcheck", "--severity=style", DEPLOY_SCRIPT],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- the script, run as the build step runs it ------------------------------------------------


class Deploy:
    """A checkout of a catalog with the deploy script, a throwaway key and a published site."""

    def __init__(self, work: GitWork, tmp_path: Path) -> None:
        self.root = work.root
        check_out_deploy_script(self.root)
        self.key = make_key(tmp_path / "private-keys", "index-key")
        self.stranger = make_key(tmp_path / "private-keys", "stranger")
        allowed_signers(self.root / "allowed_signers", self.key)
        self.runner_temp = tmp_path / "runner-temp"
        self.runner_temp.mkdir()
        self.published = tmp_path / "published"
        self.published.mkdir()  # nothing published yet: status.json answers 404

    def step(self, key: Path | None, server: SiteServer) -> subprocess.CompletedProcess[str]:
        values = {
            "PAGES_URL": server.url.rstrip("/"),
            "FRESH_STATUS": "",
            "INDEX_SIGNING_KEY": key.read_text() if key else "",
        }
        context = {"RUNNER_TEMP": str(self.runner_temp)}
        return run_step(DEPLOY_WORKFLOW, DEPLOY_STEP, self.root, values, context)

    def script(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", DEPLOY_SCRIPT, *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )


@pytest.fixture
def deploy(git_catalog: GitWork, tmp_path: Path) -> Deploy:
    require_tools("ssh-keygen", "sha256sum", "curl")
    return Deploy(git_catalog, tmp_path)


def stock_verify(site: Path, allowed: Path) -> subprocess.CompletedProcess[str]:
    """docs/signing.md's lines for a consumer, over the whole site."""
    script = (
        f"ssh-keygen -Y verify -f {allowed} -I catalog -n image-catalog-index -s SHA256SUMS.sig"
        " < SHA256SUMS && sha256sum --strict -c SHA256SUMS"
    )
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=site,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.ssh
@pytest.mark.git
def test_the_build_step_signs_verifies_and_removes_the_key(deploy: Deploy) -> None:
    with SiteServer(deploy.published) as server:
        done = deploy.step(deploy.key, server)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = done.stdout + done.stderr
    assert GOOD in done.stdout
    assert "site: every file matches SHA256SUMS" in done.stdout
    assert "::warning::no published status.json" in done.stdout  # a first deploy: no health yet
    assert list(deploy.runner_temp.iterdir()) == []  # the key file is gone
    for line in deploy.key.read_text().splitlines()[1:-1]:
        assert line not in shown
    assert str(deploy.runner_temp) not in shown
    assert "private-keys" not in shown
    site = deploy.root / "site"
    checked = stock_verify(site, deploy.root / "allowed_signers")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert GOOD in checked.stdout
    assert "latest.json: OK" in checked.stdout


@pytest.mark.ssh
@pytest.mark.git
def test_a_key_allowed_signers_does_not_list_is_refused_and_nothing_is_left(
    deploy: Deploy,
) -> None:
    with SiteServer(deploy.published) as server:
        done = deploy.step(deploy.stranger, server)
    assert done.returncode == 1
    assert (
        "::error::deploy-site: site/SHA256SUMS.sig: not a valid signature of SHA256SUMS by a key "
        "that allowed_signers lists for 'catalog' (add the signing key's public half: "
        "docs/signing.md); nothing is deployed\n"
    ) in done.stderr
    assert "::error::deploy-site: site removed: it did not verify\n" in done.stderr
    assert not (deploy.root / "site").exists()
    assert list(deploy.runner_temp.iterdir()) == []


@pytest.mark.ssh
@pytest.mark.git
def test_without_the_secret_the_site_is_unsigned_and_its_sums_checked(deploy: Deploy) -> None:
    with SiteServer(deploy.published) as server:
        done = deploy.step(None, server)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "::warning::the INDEX_SIGNING_KEY secret is not set" in done.stdout
    assert "the index is unsigned: only its SHA256SUMS is checked\n" in done.stdout
    assert "site: every file matches SHA256SUMS\n" in done.stdout
    assert not (deploy.root / "site/SHA256SUMS.sig").exists()


@pytest.mark.ssh
@pytest.mark.git
@pytest.mark.parametrize("where", ["latest.json", "SHA256SUMS"])
def test_a_changed_file_fails_verification(deploy: Deploy, where: str) -> None:
    with SiteServer(deploy.published) as server:
        assert deploy.step(deploy.key, server).returncode == 0
    site = deploy.root / "site"
    assert deploy.script("verify", "--out", "site", "--signed").returncode == 0
    data = bytearray((site / where).read_bytes())
    data[-3] ^= 0x01
    (site / where).write_bytes(bytes(data))
    done = deploy.script("verify", "--out", "site", "--signed")
    assert done.returncode == 1
    if where == "SHA256SUMS":
        assert "Signature verification failed: incorrect signature" in done.stderr
        assert "site/SHA256SUMS.sig: not a valid signature of SHA256SUMS" in done.stderr
    else:
        assert GOOD in done.stdout
        assert "latest.json: FAILED" in done.stdout
        assert (
            "::error::deploy-site: site: a file does not match the hash SHA256SUMS lists for it; "
            "nothing is deployed\n"
        ) in done.stderr


@pytest.mark.ssh
@pytest.mark.git
def test_a_missing_signature_fails_when_a_key_is_configured(deploy: Deploy) -> None:
    with SiteServer(deploy.published) as server:
        assert deploy.step(deploy.key, server).returncode == 0
    (deploy.root / "site/SHA256SUMS.sig").unlink()
    done = deploy.script("verify", "--out", "site", "--signed")
    assert (done.returncode, done.stderr) == (
        1,
        "::error::deploy-site: site/SHA256SUMS.sig: missing, and a signing key is configured; "
        "nothing is deployed\n",
    )


@pytest.mark.git
def test_a_published_status_that_cannot_be_fetched_fails_the_build(deploy: Deploy) -> None:
    """Building without it would publish a site without status.json, and the next check would
    start every history afresh."""
    with SiteServer(deploy.published) as server:
        server.fail_with = 503
        done = deploy.step(None, server)
        url = server.url
    assert done.returncode == 4
    assert (
        f"::error::deploy-site: {url}status.json could not be fetched (HTTP 503); the published "
        "health would be lost: retry\n"
    ) in done.stderr
    assert not (deploy.root / "site").exists()
    assert list(deploy.runner_temp.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "--out is required"),
        (("deploy", "--out", "site"), "the first argument is build or verify"),
        (("build", "--out", "site"), "build needs --base-url"),
        (("verify", "--out", "site", "--sign-key", "k"), "unknown argument '--sign-key'"),
        (("verify", "--out"), "--out needs a value"),
    ],
)
def test_usage_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = subprocess.run(
        ["bash", str(REPO / DEPLOY_SCRIPT), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"::error::deploy-site: {message} (usage: deploy-site.sh build")
    assert list(tmp_path.iterdir()) == []
