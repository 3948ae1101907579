"""JSON Schemas of the catalog's file kinds, generated from the models, committed in `schemas/`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from image_catalog.errors import UsageError
from image_catalog.fsutil import atomic_write_text
from image_catalog.manifest.model import KINDS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_for(kind: str, model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True)
    return {"$schema": SCHEMA_DIALECT, "$id": f"{kind.lower()}.schema.json", **schema}


def render_all(extra: dict[str, type[BaseModel]] | None = None) -> dict[str, str]:
    """File name -> content for every schema, stable byte for byte."""
    kinds = {**KINDS, **(extra or {})}
    return {
        f"{kind.lower()}.schema.json": json.dumps(schema_for(kind, model), indent=2, sort_keys=True)
        + "\n"
        for kind, model in sorted(kinds.items())
    }


def stale_files(directory: Path, rendered: dict[str, str]) -> list[str]:
    """Names of schema files that are missing or differ from the models."""
    stale = []
    for name, content in rendered.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            stale.append(name)
    return stale


def write_schemas(directory: Path, rendered: dict[str, str]) -> list[str]:
    written = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name in stale_files(directory, rendered):
            atomic_write_text(directory / name, rendered[name])
            written.append(name)
    except OSError as exc:
        raise UsageError(f"{directory}: cannot write the schemas: {exc.strerror or exc}") from exc
    return written
