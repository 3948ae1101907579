"""check.yml: the hourly health check's shards, merge and index build, run as the runner would.

The steps' scripts are read from the workflows (the index is built by deploy-site.yml, which
check.yml calls with its status) and run here against a real registry and a site served on
loopback (the previous status comes from there, as it does from GitHub Pages).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from image_catalog.build.render import build_from_scratch
from image_catalog.commands import check as check_command
from image_catalog.health import check as health
from support.catalogs import empty_catalog, registry_manifest
from support.oci import push_image
from support.pushed import container, write_entry
from support.registry import LocalRegistry, require_tools
from support.site import SiteServer
from support.workflows import (
    DEPLOY_STEP,
    DEPLOY_WORKFLOW,
    check_out_deploy_script,
    run_step,
    step,
    workflow,
)

SHARDS = 4
CHECK = "Check this shard against the registries"
MERGE = "Merge the shards into one status"


def test_check_workflow_shape() -> None:
    document = workflow("check.yml")
    assert document["on"] == {"schedule": [{"cron": "23 * * * *"}], "workflow_dispatch": None}
    assert document["permissions"] == {"contents": "read"}
    jobs = document["jobs"]
    assert list(jobs) == ["shard", "merge", "deploy"]
    assert jobs["shard"]["strategy"]["matrix"]["shard"] == list(range(1, SHARDS + 1))
    assert f'--shard "$SHARD/{SHARDS}"' in step("check.yml", CHECK)["run"]
    assert (jobs["merge"]["needs"], jobs["deploy"]["needs"]) == ("shard", "merge")
    # Deployed through the one path, shared with publish-index.yml, signed with the same key;
    # deploy-site.yml's `pages` group queues the two workflows' deployments.
    assert jobs["deploy"]["uses"] == f"./.github/workflows/{DEPLOY_WORKFLOW}"
    assert jobs["deploy"]["with"] == {"status-artifact": "status"}
    assert jobs["deploy"]["secrets"] == {"INDEX_SIGNING_KEY": "${{ secrets.INDEX_SIGNING_KEY }}"}
    assert workflow(DEPLOY_WORKFLOW)["concurrency"]["group"] == "pages"
    assert jobs["deploy"]["permissions"] == {
        "pages": "write",
        "id-token": "write",
        "contents": "read",
    }


def _catalog(root: Path, registry: LocalRegistry) -> list[str]:
    catalog = empty_catalog(root / "catalog", {"local": registry_manifest("local", registry.host)})
    digests = []
    for n in range(8):
        image = push_image(registry, f"workflow/check-{n}", "v")
        write_entry(catalog, f"check-{n}", [container(image)])
        digests.append(image.digest)
    return digests


def _hour(root: Path, site: Path, url: str, runner: dict[str, str]) -> list[str]:
    """One run of check.yml: every shard, the merge, the index build; the annotations shown."""
    shards = root / "shards"
    shards.mkdir(exist_ok=True)
    shown = []
    for shard in range(1, SHARDS + 1):
        values = {
            "SHARD": str(shard),
            "PAGES_URL": url,
            "QUAY_USERNAME": "",
            "QUAY_PASSWORD": "",
        }
        done = run_step("check.yml", CHECK, root, values, runner)
        assert done.returncode == 0, done.stdout + done.stderr
        shown += (done.stdout + done.stderr).splitlines()
        shutil.move(root / f"status-{shard}.json", shards / f"status-{shard}.json")
    merged = run_step("check.yml", MERGE, root, {}, runner)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    # The `status` artifact, as deploy-site.yml downloads it.
    artifact = Path(runner["RUNNER_TEMP"]) / "status"
    artifact.mkdir(exist_ok=True)
    shutil.move(root / "status.json", artifact / "status.json")
    pages = {"PAGES_URL": url, "FRESH_STATUS": "status", "INDEX_SIGNING_KEY": ""}
    built = run_step(DEPLOY_WORKFLOW, DEPLOY_STEP, root, pages, runner)
    assert built.returncode == 0, built.stdout + built.stderr
    shutil.rmtree(shards)
    # What the deploy job publishes: the new site replaces the old one.
    shutil.rmtree(site)
    shutil.copytree(root / "site", site)
    return shown + merged.stdout.splitlines()


@pytest.mark.slow
def test_check_workflow_runs_shards_merge_and_index(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    require_tools("skopeo")
    root = tmp_path / "repo"
    digests = _catalog(root, registry)
    check_out_deploy_script(root)
    # The site as the previous hour published it (`check` without history: see test_check.py).
    site = tmp_path / "published"
    earlier = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    settings = check_command.CheckSettings(catalog=root / "catalog", retries=0)
    status = check_command.check(settings, clock=lambda: earlier).status
    build_from_scratch(root / "catalog", site, status=status)
    registry.delete_manifest("workflow/check-3", digests[3])
    runner = {"RUNNER_TEMP": str(tmp_path)}
    with SiteServer(site) as server:
        url = server.url.rstrip("/")
        shown = _hour(root, site, url, runner)
        missing = "::error title=check-3@1.0::check-3@1.0: missing since "
        assert sum(line.startswith(missing) for line in shown) == 2  # the shard, the merge
        assert not [line for line in shown if line.startswith("warning:")]
        published = json.loads((site / "status.json").read_text())
        assert "shard" not in published
        assert published["figures"]["states"] == {
            "available": 7,
            "missing": 1,
            "changed": 0,
            "failed": 0,
            "unreachable": 0,
            "unauthorized": 0,
        }
        by_id = {e["id"]: e for e in published["entries"]}
        assert (by_id["check-3@1.0"]["state"], by_id["check-3@1.0"]["consecutiveFailures"]) == (
            "missing",
            1,
        )
        # The history came from the published site: two checks on record for every entry (a
        # letter each; "-" marks the times of the other shards' checks).
        assert {len(e["record"].replace("-", "")) for e in published["entries"]} == {2}
        assert by_id["check-0@1.0"]["since"] == earlier.strftime("%Y-%m-%dT%H:%M:%SZ")
        version = json.loads((site / "images/check-3/1.0.json").read_text())
        assert version["health"] == "missing"
        index = json.loads((site / "index.json").read_text())
        assert sorted(s["health"] for s in index["images"]) == ["available"] * 7 + ["missing"]

        # A merge to main rebuilds the index: publish-index.yml's call carries the published
        # health over.
        carried = {"PAGES_URL": url, "FRESH_STATUS": "", "INDEX_SIGNING_KEY": ""}
        rebuilt = run_step(DEPLOY_WORKFLOW, DEPLOY_STEP, root, carried, runner)
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        assert "no published status.json" not in rebuilt.stdout
        assert (root / "site/status.json").read_bytes() == (site / "status.json").read_bytes()
        version = json.loads((root / "site/images/check-3/1.0.json").read_text())
        assert version["health"] == "missing"


def test_check_workflow_fails_without_a_status_instead_of_losing_history(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    require_tools("skopeo")
    root = tmp_path / "repo"
    _catalog(root, registry)
    runner = {"RUNNER_TEMP": str(tmp_path)}
    # The published site cannot be reached: the shard fails rather than start a new history.
    values = {
        "SHARD": "1",
        "PAGES_URL": "http://127.0.0.1:9",
        "QUAY_USERNAME": "",
        "QUAY_PASSWORD": "",
    }
    done = run_step("check.yml", CHECK, root, values, runner)
    assert done.returncode == 4
    assert "http://127.0.0.1:9/status.json could not be reached" in done.stderr
    assert not (root / "status-1.json").exists()
    # A shard missing from the merge: refused, nothing written, the job fails.
    settings = check_command.CheckSettings(
        catalog=root / "catalog", shard=health.parse_shard(f"1/{SHARDS}"), retries=0
    )
    (root / "shards").mkdir()
    health.write(root / "shards/status-1.json", check_command.check(settings).status)
    merged = run_step("check.yml", MERGE, root, {}, runner)
    assert merged.returncode == 1
    assert "shards 2/4, 3/4, 4/4 missing" in merged.stderr
    assert not (root / "status.json").exists()
