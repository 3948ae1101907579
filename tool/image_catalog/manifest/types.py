"""The field types of the catalog's documents, and the base every document model is made on.

Types are strict: a field takes a value of its own type and nothing that could be converted to it
(`'true'` is not a boolean, `'1060'` and `600.0` are not sizes), as the exported JSON Schemas say.
Identifiers that end up in paths, URLs or command lines have patterns that leave out separators,
whitespace, control characters and a leading '-'; times and dates are RFC 3339 text, never numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from image_catalog.manifest.reference import (
    DIGEST_PATTERN,
    HOST_PATTERN,
    PINNED_PATTERN,
    TAG_PATTERN,
)
from image_catalog.manifest.vocabulary import Vocabulary
from image_catalog.naming import (
    NAME_MAX_LENGTH,
    NAME_PATTERN,
    VERSION_MAX_LENGTH,
    VERSION_PATTERN,
    closest,
)
from image_catalog.text import FREE_TEXT_PATTERN, LINE_PATTERN, SAFE_PATH_PATTERN

API_VERSION = "catalog.automotive.sdv.cloud.redhat.com/v1alpha1"

# Anything that may end up in a path, a URL or a command line: no separators, whitespace, control
# characters or leading '-'.
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH)]
Version = Annotated[str, StringConstraints(pattern=VERSION_PATTERN, max_length=VERSION_MAX_LENGTH)]
Token = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_][0-9A-Za-z_.+-]*$", max_length=128)]
Word = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=63)]
FileTitle = Annotated[
    str, StringConstraints(pattern=r"^[0-9A-Za-z_][0-9A-Za-z_.+-]*$", max_length=255)
]
KubeName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)
]
Digest = Annotated[str, StringConstraints(pattern=rf"^{DIGEST_PATTERN}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
PinnedRef = Annotated[str, StringConstraints(pattern=PINNED_PATTERN, max_length=512)]
Host = Annotated[str, StringConstraints(pattern=rf"^{HOST_PATTERN}$", max_length=255)]
TagHint = Annotated[str, StringConstraints(pattern=rf"^{TAG_PATTERN}$")]
MediaType = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.+-]*/[a-zA-Z0-9][a-zA-Z0-9.+_-]*$")
]
# Free text: no control characters (a tab and a line break only in longer text) and no bidi
# overrides, which make text read differently from what it holds.
Line = Annotated[str, StringConstraints(pattern=LINE_PATTERN, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(pattern=FREE_TEXT_PATTERN, max_length=4000)]
EntryId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?@[0-9A-Za-z][0-9A-Za-z._-]*$"),
]
# As in Kubernetes: an optional DNS prefix (at most 253) and a name (at most 63).
LabelKey = Annotated[
    str,
    StringConstraints(
        pattern=r"^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$",
        max_length=317,
    ),
]
SafePath = Annotated[str, StringConstraints(pattern=SAFE_PATH_PATTERN, max_length=4096)]
ImageName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$", max_length=512)
]
LabelValue = Annotated[
    str,
    StringConstraints(pattern=r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$", max_length=63),
]
HttpUrl = Annotated[
    str,
    StringConstraints(
        pattern=r"^https?://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?"
        r"(/[A-Za-z0-9._~%!$&*+,;=:@/-]*)?(\?[A-Za-z0-9._~%!$&*+,;=:@/?-]*)?$",
        max_length=2048,
    ),
]
# Sizes are bytes on a 64-bit machine: every tool that reads the index holds them in an int64.
MAX_SIZE = 2**63 - 1
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128)]


# RFC 3339 as catalog files write times and dates, years 1970 to 9998: nothing in a catalog is
# older than the epoch, and a year on the calendar's edge overflows once moved to UTC. The text
# form is checked here, not left to the parser, which would also read '1767225600' as a time.
_YEAR = r"(?:19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_DAY = rf"{_YEAR}-[0-9]{{2}}-[0-9]{{2}}"
_CLOCK = r"[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
TIME_PATTERN = rf"^{_DAY}{_CLOCK}(?:[Zz]|[+-][0-9]{{2}}:[0-9]{{2}})$"
DATE_PATTERN = rf"^{_DAY}$"
_TIME = re.compile(TIME_PATTERN)
_NAIVE_TIME = re.compile(rf"^{_DAY}{_CLOCK}$")
_DATE = re.compile(DATE_PATTERN)


def _time_input(value: Any) -> Any:
    # Strict about the type (a number is not a time) and the form (RFC 3339 with a zone).
    if isinstance(value, str) and _TIME.fullmatch(value):
        return value
    if isinstance(value, str) and _NAIVE_TIME.fullmatch(value):
        raise PydanticCustomError(
            "timezone_aware",
            "{value} has no time zone; write it in UTC with a trailing Z",
            {"value": value},
        )
    raise PydanticCustomError(
        "datetime_type",
        "{value} is not a time; write it as text such as '2026-01-31T12:00:00Z' (years 1970 to "
        "9998)",
        {"value": repr(value)},
    )


def _date_input(value: Any) -> Any:
    if isinstance(value, str) and _DATE.fullmatch(value):
        return value
    raise PydanticCustomError(
        "date_type",
        "{value} is not a date; write it as text such as '2026-01-31' (years 1970 to 9998)",
        {"value": repr(value)},
    )


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_range", "{value} is out of range once converted to UTC", {"value": value}
        ) from None


# The form catalog files write, a whole second in UTC: read in one step, to the value the
# validators below give it. Anything else goes through them, and is refused by them.
_UTC_SECOND = re.compile(rf"{_YEAR}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}Z")


def _utc_second(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, str) and _UTC_SECOND.fullmatch(value):
        try:
            return datetime.fromisoformat(value)  # tzinfo is UTC, as _utc makes it
        except ValueError:
            pass  # an impossible date such as 2026-02-30: the validators say why
    return handler(value)


CheckedTime = Annotated[
    AwareDatetime,
    Field(strict=False, json_schema_extra={"pattern": TIME_PATTERN}),
    BeforeValidator(_time_input),
    AfterValidator(_utc),
]
UtcTime = Annotated[CheckedTime, WrapValidator(_utc_second)]
Day = Annotated[
    date,
    Field(strict=False, json_schema_extra={"pattern": DATE_PATTERN}),
    BeforeValidator(_date_input),
]
Size = Annotated[int, Field(ge=0, le=MAX_SIZE)]


class Model(BaseModel):
    """Every catalog document's part: strict types, camelCase names in files, nothing extra."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        alias_generator=to_camel,
        validate_by_name=False,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


def context_vocabulary(info: ValidationInfo) -> Vocabulary | None:
    """The vocabulary validation was given as context, if any (then names are checked)."""
    context = info.context
    return context.get("vocabulary") if isinstance(context, dict) else None


def unknown_name(kind: str, value: str, known: Iterable[str]) -> PydanticCustomError:
    """A name the vocabulary does not know, with the closest known spelling as a hint."""
    return PydanticCustomError(
        f"unknown_{kind}",
        f"'{{value}}' is not a known {kind}{{hint}} (add it to catalog/vocabulary.yaml if AIB "
        "supports it)",
        {"value": value, "hint": closest(value, known)},
    )
