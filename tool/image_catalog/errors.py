"""The errors the core raises; the CLI maps each family to one exit code.

`CatalogError` means "the user must fix something" (exit 1), `UsageError` a command line that
cannot be run as given (exit 2) and `RegistryUnavailable` a check that could not be completed
(exit 4): a retry may pass. Anything else is a bug (exit 3).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INVALID = 1
    USAGE = 2
    INTERNAL = 3
    UNAVAILABLE = 4
    INTERRUPTED = 130
    TERMINATED = 143


class ImageCatalogError(Exception):
    """Base of every error the tool expects and explains."""

    exit_code: ExitCode = ExitCode.INVALID


class CatalogError(ImageCatalogError):
    """The catalog or an input is wrong; the message says what to change."""


class UsageError(ImageCatalogError):
    """The command line cannot be carried out as given."""

    exit_code = ExitCode.USAGE


class RegistryUnavailable(ImageCatalogError):
    """A registry could not be reached or refused the credentials: checks are incomplete."""

    exit_code = ExitCode.UNAVAILABLE
