"""What `export crs` wrote, read back and held to the operator's CRD."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from support.paths import FIXTURES

OPERATOR_SCHEMA = FIXTURES / "operator" / "catalogimage.v1alpha1.schema.json"
SCHEMA = json.loads(OPERATOR_SCHEMA.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def exported_resources(out: Path) -> dict[str, dict[str, Any]]:
    """Every resource the export wrote, by name, after checking the kustomization lists them
    all and each fits the operator's CRD."""
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    files = sorted(p.name for p in out.iterdir() if p.name != "kustomization.yaml")
    assert sorted(kustomization["resources"]) == files
    found = {}
    for name in files:
        document = yaml.safe_load((out / name).read_text())
        errors = [e.message for e in VALIDATOR.iter_errors(document)]
        assert errors == [], f"{name}: {errors}"
        assert name == f"{document['metadata']['name']}.yaml"
        found[document["metadata"]["name"]] = document
    return found
