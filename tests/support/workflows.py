"""The GitHub workflows as data, and their steps' scripts run as the runner runs them.

A step is found by its id or name; `run_step` gives it exactly the `env:` names the workflow
declares (a test that passes other names fails), so a workflow cannot drift from its tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from support.paths import REPO

WORKFLOWS = REPO / ".github" / "workflows"
# What deploy-site.yml's build step runs from the checkout: the one way to the published site.
DEPLOY_SCRIPT = "tool/deploy-site.sh"
DEPLOY_WORKFLOW = "deploy-site.yml"
DEPLOY_STEP = "Build, sign and verify the index"


def workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(document, dict)
    if True in document:  # YAML 1.1 reads the key `on` as true
        document["on"] = document.pop(True)
    return document


def steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def step(name: str, label: str) -> dict[str, Any]:
    found = [s for s in steps(workflow(name)) if s.get("id") == label or s.get("name") == label]
    assert len(found) == 1, f"{name}: no single step {label!r}"
    return found[0]


def run_step(
    name: str, label: str, cwd: Path, values: dict[str, str], context: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run a step's script as the runner does, with `values` for each of the step's `env:`."""
    found = step(name, label)
    assert set(found.get("env", {})) == set(values), f"{name}: {label}: env names differ"
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "IMAGE_CATALOG_"))
    }
    environment.update(context)
    environment.update(values)
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", found["run"]],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def check_out_deploy_script(root: Path) -> None:
    """Put this repository's deploy script into `root`, where a checkout of it would have it."""
    (root / DEPLOY_SCRIPT).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / DEPLOY_SCRIPT, root / DEPLOY_SCRIPT)
