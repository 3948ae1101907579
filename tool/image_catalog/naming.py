"""Image names and versions, and spelling hints: shared by the catalog's models and the reader.

Names and versions end up in paths, URLs and command lines, so both sides check them with the
same patterns. This module imports the standard library only: the reader depends on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# A DNS-1123 label: no separators, whitespace, control characters or leading '-'.
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
NAME_MAX_LENGTH = 63
VERSION_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._-]*$"
VERSION_MAX_LENGTH = 64

_NAME = re.compile(NAME_PATTERN)
_VERSION = re.compile(VERSION_PATTERN)

# The build operator's API group: the prefix of its resources' apiVersion, of the labels it sets,
# and of the annotations automotive-image-builder puts on what it pushes.
OPERATOR_GROUP = "automotive.sdv.cloud.redhat.com/"
SCHEDULE_LABEL = OPERATOR_GROUP + "scheduledimagebuild-name"


def is_name(text: str) -> bool:
    """True for an image name the catalog accepts (pattern only; the model also bounds length)."""
    return _NAME.fullmatch(text) is not None  # `$` alone lets a final newline through


def is_version(text: str) -> bool:
    """True for a version the catalog accepts (pattern only; the model also bounds length)."""
    return _VERSION.fullmatch(text) is not None


_TAG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
SCHEDULE_TAG_PREFIX = "schedule-"


def schedule_tag(schedule: str) -> str | None:
    """The tag the builds of a ScheduledImageBuild carry (`schedule-NAME`), or None when it would
    not be a valid tag (a name too long for one). Publish adds it; `query --schedule` needs it."""
    tag = SCHEDULE_TAG_PREFIX + schedule
    return tag if _TAG.match(tag) else None


def closest(name: str, known: Iterable[str]) -> str:
    """A hint naming the closest known spelling, or an empty string."""
    import difflib  # only an error needs it, and it is slow to import

    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f"; did you mean {match[0]!r}?" if match else ""
