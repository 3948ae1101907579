"""Container image references: parsing and the rules a digest-pinned reference follows."""

from __future__ import annotations

import re
from dataclasses import dataclass

DIGEST_PATTERN = r"sha256:[0-9a-f]{64}"
_HOST = (
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
)
# A TCP port, 1 to 65535, without leading zeros.
_PORT = r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
HOST_PATTERN = rf"{_HOST}(?::{_PORT})?"
# A host a reference names explicitly, as Docker tells one from a Docker Hub namespace: with a '.',
# with a port, or localhost. Spelled out without lookahead, so the JSON Schema says the same.
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
EXPLICIT_HOST_PATTERN = rf"(?:{_LABEL}(?:\.{_LABEL})+(?::{_PORT})?|{_LABEL}:{_PORT}|localhost)"
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_PATTERN = rf"{_COMPONENT}(?:/{_COMPONENT})*"
TAG_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
PINNED_PATTERN = rf"^{EXPLICIT_HOST_PATTERN}/{REPOSITORY_PATTERN}@{DIGEST_PATTERN}$"

_REFERENCE = re.compile(
    rf"^(?P<host>{HOST_PATTERN})/(?P<repository>{REPOSITORY_PATTERN})"
    rf"(?::(?P<tag>{TAG_PATTERN}))?(?:@(?P<digest>{DIGEST_PATTERN}))?$"
)


@dataclass(frozen=True)
class Reference:
    """A parsed `host/repository[:tag][@digest]`; the host is always explicit."""

    host: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Parse a reference, accepting a `docker://` or `oci://` prefix; raises ValueError."""
        bare = text.removeprefix("docker://").removeprefix("oci://")
        match = _REFERENCE.fullmatch(bare)  # `$` would let a trailing newline through
        if match is None or not _explicit_host(match["host"]):
            raise ValueError(
                f"{text!r} is not a registry reference of the form "
                "HOST/REPOSITORY[:TAG][@sha256:DIGEST] (the host must be explicit)"
            )
        return cls(match["host"], match["repository"], match["tag"], match["digest"])

    @property
    def name(self) -> str:
        return f"{self.host}/{self.repository}"

    def pinned(self, digest: str | None = None) -> str:
        """The digest-pinned form, `host/repository@sha256:…`."""
        chosen = digest or self.digest
        if chosen is None:
            raise ValueError(f"{self} has no digest")
        return f"{self.name}@{chosen}"

    def on_host(self, host: str) -> Reference:
        return Reference(host, self.repository, self.tag, self.digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _explicit_host(host: str) -> bool:
    # Like Docker: a first component without '.' or ':' is a Docker Hub namespace, not a host.
    return "." in host or ":" in host or host == "localhost"
