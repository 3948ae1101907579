"""Reading a site's documents: JSON decoded straight into the contract's types, with an error that
says which of JSON, schemaVersion, kind or a field is wrong.

The reader, the health check (a previous status) and the build (a status to publish) all parse
through here, so a document is read the same way wherever it comes from, and is refused the same
way when it could not be used: JSON nested deeper than the decoder follows (a site document is
a few levels deep; msgspec stops at Python's recursion limit, about a thousand), and a time
outside the years 1970 to 9998 (`times`), which would overflow once converted to UTC.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any, TypeVar, cast

import msgspec

from image_catalog.errors import CatalogError
from image_catalog.site.contract import Document
from image_catalog.site.times import FIRST_YEAR, LAST_YEAR, out_of_range

D = TypeVar("D", bound=Document)
T = TypeVar("T")
# Parse one document: its bytes or text, and where it was read (for messages).
Parse = Callable[[bytes | str, str], D]


class _Header(msgspec.Struct, rename="camel"):
    """What every document starts with, read when a document does not decode as expected."""

    schema_version: Any = None
    kind: Any = None


_DECODERS: dict[type[Document], msgspec.json.Decoder[Any]] = {}
_PARSERS: dict[type[Document], Parse[Any]] = {}
_MODEL_OF: dict[Parse[Any], type[Document]] = {}  # which model a plain parser decodes


def model_of(parse: Parse[Any]) -> type[Document] | None:
    """The model a plain parser from `parser` decodes (None for any other function)."""
    return _MODEL_OF.get(parse)


def parser(model: type[D]) -> Parse[D]:
    """Parse and check one index document: JSON, then schemaVersion and kind, then the model.

    The document is decoded into `model` in one pass; only when that fails (or names another
    schemaVersion) is it read again for its header, to say which of the three is wrong.
    """
    made = _PARSERS.get(model)
    if made is not None:
        return cast(Parse[D], made)
    kind = model.__struct_config__.tag
    version = model.format_version
    decoder = _DECODERS.get(model)
    if decoder is None:
        decoder = _DECODERS[model] = msgspec.json.Decoder(model)

    def parse(data: bytes | str, where: str) -> D:
        try:
            doc: D = decode_without_gc(decoder, data)
        except msgspec.ValidationError as exc:
            _check_header(data, where, kind, version)
            raise CatalogError(f"{where}: not a valid {kind} document: {_problem(exc)}") from exc
        except msgspec.DecodeError as exc:
            raise CatalogError(
                f"{where}: not valid JSON ({exc}); the file is truncated or corrupt: rebuild or "
                "republish the index"
            ) from exc
        except RecursionError as exc:
            raise too_deep(where) from exc
        if doc.schema_version != version:
            _check_header(data, where, kind, version)
        _check_times(doc, where, kind)
        return doc

    _PARSERS[model] = parse
    _MODEL_OF[parse] = model
    return parse


def decode_without_gc(decoder: msgspec.json.Decoder[T], data: bytes | str) -> T:
    """Decode with the garbage collector paused.

    A large index is several hundred thousand new lists and strings; the collector would scan the
    growing heap again and again while they are made (the document holds no cycles to find).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return decoder.decode(data)
    finally:
        if enabled:
            gc.enable()


def too_deep(where: str) -> CatalogError:
    """The error for JSON nested deeper than the decoder follows (it raised RecursionError)."""
    return CatalogError(f"{where}: nested deeper than a site document can be")


def _check_times(doc: Document, where: str, kind: object) -> None:
    found = out_of_range(doc)
    if found is not None:
        path, moment = found
        raise CatalogError(
            f"{where}: not a valid {kind} document: {path}: {moment.isoformat()} is out of "
            f"range (a site's times fall within the years {FIRST_YEAR} to {LAST_YEAR})"
        )


def _check_header(data: bytes | str, where: str, kind: object, expected: int) -> None:
    try:
        header = msgspec.json.decode(data, type=_Header)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise CatalogError(f"{where}: not an image-catalog index document") from exc
    except RecursionError as exc:
        raise too_deep(where) from exc
    version = header.schema_version
    if version != expected or isinstance(version, bool):
        advice = (
            "upgrade image-catalog"
            if isinstance(version, int) and version > expected
            else "rebuild the index"
        )
        raise CatalogError(
            f"{where}: schemaVersion {version!r} is not supported (this image-catalog reads "
            f"schemaVersion {expected}): {advice}"
        )
    if header.kind != kind:
        raise CatalogError(
            f"{where}: a document of kind {header.kind!r} where kind {kind!r} belongs"
        )


def _problem(error: msgspec.ValidationError) -> str:
    """msgspec's "Expected `int`, got `str` - at `$.images[0].size`" as "images[0].size: ..."."""
    text, _, at = str(error).partition(" - at `")
    path = at.rstrip("`").removeprefix("$").removeprefix(".")
    missing = "Object missing required field `"
    if text.startswith(missing):
        field_name = text.removeprefix(missing).rstrip("`")
        path = f"{path}.{field_name}" if path else field_name
        text = "Field required"
    return f"{path}: {text}" if path else text
