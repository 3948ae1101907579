"""What can go wrong with an answer from a server, by what a caller does about it:
`ServerUnreachable` (and its kinds) may pass on a retry or with a cached copy; the others will
not."""

from __future__ import annotations

from urllib.parse import urlsplit


class FetchError(Exception):
    """An answer that cannot be used."""


class ServerUnreachable(FetchError):
    """No usable answer came: the connection failed, broke off or took too long. A retry, or a
    copy cached earlier, may do."""


class DeadlineExceeded(ServerUnreachable):
    """The whole answer did not arrive within the request's deadline."""


class ProtocolError(ServerUnreachable):
    """The answer is not HTTP/1.x as this client reads it, or it was cut short."""


class CutShort(ProtocolError):
    """The connection closed before the whole body its answer announced had come."""


class ClosedBeforeAnswer(ProtocolError, ConnectionError):
    """The connection was closed before the first byte of an answer."""

    def __init__(self) -> None:
        super().__init__("the server closed the connection without answering")


class TooLarge(FetchError):
    """The answer is larger than the file it stands for can be."""


class RedirectRefused(FetchError):
    """A redirect this client does not follow: another scheme, https down to http, or too many."""


class CredentialsInUrl(FetchError):
    """A URL with user information (`user:secret@host`), which would leak into messages."""


def redact(url: str) -> str:
    """`url` with any user information and its query replaced, for messages: a query is where
    pre-signed URLs (S3, a CDN) carry their signature, a secret as much as a password."""
    parts = urlsplit(url)
    if "@" not in parts.netloc and not parts.query and not parts.fragment:
        return url
    host = parts.netloc.rpartition("@")[2]
    netloc = f"***@{host}" if "@" in parts.netloc else parts.netloc
    return parts._replace(netloc=netloc, query="***" if parts.query else "", fragment="").geturl()
