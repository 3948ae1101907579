"""The times a site document may hold: years 1970 to 9998, as the catalog's own files.

RFC 3339 lets a time sit on the calendar's edge with an offset that moves it past the edge once
in UTC (`9999-12-31T23:00:00-23:59`), where every conversion to UTC overflows. Nothing a site
describes is older than the epoch or that far ahead, so a document holding such a time is refused
when it is read (`parse.parser`), and every document in hand can be converted to UTC, compared
and printed without a further check.

The check is planned once per document type from the contract itself (`msgspec.inspect`), so a
time field added to the contract is checked without being listed here; it visits only the fields
that can hold a time, each across all rows at once, which keeps it a small fraction of decoding a
large index (3 to 4 ms, 5 to 7% of decoding a 20,000-entry index.json). Only a document found to
hold a time out of range is walked value by value, to name the field.

msgspec and the standard library only, like the rest of `site/`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from itertools import chain
from operator import attrgetter
from typing import Any

import msgspec
import msgspec.inspect as mi

FIRST_YEAR = 1970
LAST_YEAR = 9998

# The first time out of range under a value: its path ("" for the value itself) and the time.
Found = tuple[str, dt.date] | None


def out_of_range(doc: msgspec.Struct) -> tuple[str, dt.date] | None:
    """The first time in `doc` outside the years 1970 to 9998, as (field path, time)."""
    check = _check_struct(type(doc))
    if check is None or check([doc]):
        return None
    found = _locate(mi.type_info(type(doc)), doc)
    if found is None:
        return None
    path, moment = found
    return path.removeprefix("."), moment


# --- whether every time is in range: field by field over all values at once ---------------------
# The values of one field across all rows go through C iterators (map, filter, chain): a Python
# call per row would cost several times the check itself over an index's summaries.

Check = Callable[[Iterable[Any]], bool]  # whether every time under these values is in range
_CHECKS: dict[type[msgspec.Struct], Check | None] = {}
_YEAR = attrgetter("year")


def _check(info: mi.Type) -> Check | None:
    """How to check many values of this type (never None) at once; None: it holds no time."""
    if isinstance(info, mi.Metadata):
        return _check(info.type)
    if isinstance(info, mi.DateTimeType | mi.DateType):
        return _check_times
    if isinstance(info, mi.StructType):
        return _check_struct(info.cls)
    if isinstance(info, mi.ListType | mi.VarTupleType):
        items = _check(info.item_type)
        return None if items is None else lambda values: items(chain.from_iterable(values))
    if isinstance(info, mi.DictType):
        inner = _check(info.value_type)
        if inner is None:
            return None
        return lambda values: inner(chain.from_iterable(map(dict.values, values)))
    if isinstance(info, mi.UnionType):
        options = [check for option in info.types if (check := _check(option)) is not None]
        if len(options) > 1:  # the contract has no such union; refuse to guess
            raise TypeError("a union of several types that hold times")
        return options[0] if options else None
    return None


def _check_times(values: Iterable[dt.date]) -> bool:
    years = set(map(_YEAR, values))
    return not years or (min(years) >= FIRST_YEAR and max(years) <= LAST_YEAR)


def _check_struct(cls: type[msgspec.Struct]) -> Check | None:
    if cls in _CHECKS:
        return _CHECKS[cls]
    _CHECKS[cls] = None  # a type that holds itself is checked as far as its other fields say
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    planned = [(attrgetter(f.name), _check(f.type)) for f in info.fields]
    fields = [(get, check) for get, check in planned if check is not None]
    if not fields:
        return None

    if len(fields) == 1:  # the values are gone through once: no list of them is needed
        [(get, check)] = fields
        only: Check = lambda values: check(filter(None, map(get, values)))  # noqa: E731
        _CHECKS[cls] = only
        return only

    def check_struct(values: Iterable[Any]) -> bool:
        rows = values if isinstance(values, list) else list(values)
        # filter(None, ...): a field left None holds no time, nor does an empty list.
        return all(check(filter(None, map(get, rows))) for get, check in fields)

    _CHECKS[cls] = check_struct
    return check_struct


# --- where the first time out of range is: value by value, once one is known to be there ---------


def _locate(info: mi.Type, value: Any) -> Found:
    if value is None:
        return None
    if isinstance(info, mi.Metadata):
        return _locate(info.type, value)
    if isinstance(info, mi.DateTimeType | mi.DateType):
        in_range = FIRST_YEAR <= value.year <= LAST_YEAR
        return None if in_range else ("", value)
    inner: list[tuple[str, mi.Type, Any]] = []
    if isinstance(info, mi.StructType):
        inner = [(f".{f.encode_name}", f.type, getattr(value, f.name)) for f in info.fields]
    elif isinstance(info, mi.ListType | mi.VarTupleType):
        inner = [(f"[{i}]", info.item_type, item) for i, item in enumerate(value)]
    elif isinstance(info, mi.DictType):
        inner = [(f"[{key!r}]", info.value_type, item) for key, item in value.items()]
    elif isinstance(info, mi.UnionType):
        inner = [("", option, value) for option in info.types if _check(option) is not None]
    for step, kind, item in inner:
        found = _locate(kind, item)
        if found is not None:
            return step + found[0], found[1]
    return None
