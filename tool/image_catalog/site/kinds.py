"""Every kind of document the site publishes, and their JSON Schemas.

`schemas()` generates the schemas the site's `schemas/` folder holds from the very types the
builder writes and the reader decodes (`site.contract`, `site.status_file`), so a schema cannot
drift from the format. The output is stable byte for byte: a rebuild leaves the files as they were.
"""

from __future__ import annotations

from typing import Any

import msgspec

from image_catalog.site.contract import (
    SCHEMA_DIALECT,
    Document,
    ImageDoc,
    IndexDoc,
    SiteDoc,
    VersionDoc,
    ViewDoc,
    encode,
)
from image_catalog.site.status_file import StatusFile

DOCUMENTS: dict[str, type[Document]] = {
    "Site": SiteDoc,
    "Index": IndexDoc,
    "View": ViewDoc,
    "Image": ImageDoc,
    "Version": VersionDoc,
    "Status": StatusFile,
}


def schemas() -> dict[str, str]:
    """File name -> JSON Schema of every document kind, stable byte for byte."""
    rendered = {}
    for kind, model in sorted(DOCUMENTS.items()):
        schema = _standalone(kind, model)
        rendered[f"{kind.lower()}.schema.json"] = _json_text(schema)
    return rendered


def _standalone(kind: str, model: type[Document]) -> dict[str, Any]:
    """The document's own definition at the top, the parts it uses under $defs."""
    generated = msgspec.json.schema(model)
    defs: dict[str, Any] = generated["$defs"]
    top = defs.pop(model.__name__)
    schema: dict[str, Any] = {"$schema": SCHEMA_DIALECT, "$id": f"{kind.lower()}.schema.json"}
    schema.update(top)
    if defs:
        schema["$defs"] = defs
    return schema


def _json_text(value: Any) -> str:
    return msgspec.json.format(encode(value), indent=2).decode("utf-8")
