"""Rules a careless or hostile change slips past the schema: times that cannot be, successors in a
circle. Each returns problems; the checks in `facts.py` call them.

The clock rule (`published_in_future`) runs on every validation, never from a cache: a time in the
future stops being one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from image_catalog.catalog.problems import Problem
from image_catalog.manifest.model import CatalogImage

# Clocks of the machine that published and of CI differ a little; a typo in the year does not.
CLOCK_SLACK = timedelta(days=1)
PUBLISHED_AT = ("spec", "publishedAt")
SUPERSEDED_BY = ("spec", "lifecycle", "supersededBy")


def rfc3339(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    if utc.year < 1000:  # strftime writes these years without leading zeros
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The same text as that strftime, without its cost (it runs once per entry checked).
    return (
        f"{utc.year}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"
    )


def time_order(image: CatalogImage) -> str | None:
    """A message when the entry says it was published before its build completed."""
    build = image.spec.source.image_build
    if build is None or image.spec.published_at >= build.completion_time:
        return None
    return (
        f"{rfc3339(image.spec.published_at)} is before the build completed "
        f"({rfc3339(build.completion_time)}, spec.source.imageBuild.completionTime)"
    )


def published_in_future(
    entries: Sequence[tuple[str, str | None]], now: datetime | None = None
) -> list[Problem]:
    """(path as shown, publishedAt as RFC 3339) of each entry -> the ones published after now."""
    limit = (now or datetime.now(UTC)) + CLOCK_SLACK
    problems = []
    for shown, published in entries:
        if published is None:
            continue
        moment = datetime.fromisoformat(published)
        if moment > limit:
            problems.append(
                Problem(
                    shown,
                    f"{published} is in the future; publishedAt is when the entry was published",
                    PUBLISHED_AT,
                    code="time",
                    source=Path(shown),
                )
            )
    return problems


def supersede_cycles(entries: Sequence[tuple[str, str, str | None]]) -> list[Problem]:
    """(path as shown, id, supersededBy) of each entry -> one problem per entry in a cycle.

    A successor chain that comes back to where it started has no newest version, so a client
    following it to the current image never ends. An entry naming itself is reported by the
    entry's own checks.
    """
    successor = {entry_id: after for _, entry_id, after in entries if after is not None}
    where = {entry_id: shown for shown, entry_id, _ in entries}
    in_cycle: dict[str, list[str]] = {}
    for start in successor:
        chain = [start]
        seen = {start}
        current = successor.get(start)
        while current is not None and current not in seen:
            chain.append(current)
            seen.add(current)
            current = successor.get(current)
        if current == start and len(chain) > 1:
            in_cycle[start] = chain
    problems = []
    for entry_id, chain in in_cycle.items():
        circle = " -> ".join([*chain, entry_id])
        problems.append(
            Problem(
                where[entry_id],
                f"the successors go round in a circle ({circle}); one version must be the newest",
                SUPERSEDED_BY,
                code="lifecycle",
                source=Path(where[entry_id]),
            )
        )
    return problems
