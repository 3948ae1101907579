"""Signing a built site: SHA256SUMS.sig, an SSH signature of SHA256SUMS (`ssh-keygen -Y sign`).

The key is an ed25519 private key in a file (`index build --sign-key FILE` or
$IMAGE_CATALOG_SIGNING_KEY_FILE), without a passphrase: in CI it comes from a secret written to a
0600 file for the one step. Its path and content never appear in a message, the output or the
site: ssh-keygen's own messages are shown with the path replaced, and what is reported of the key
is its public fingerprint. ssh-keygen runs detached from the terminal with a minimal environment,
so a passphrase-protected key fails at once instead of prompting.

What is signed says when it expires (the second line of SHA256SUMS): the build's time plus the
key's `valid_for` (`index build --valid-for`, default 7 days), within the years `site.times`
allows. Every build signs anew, so a site rebuilt more often than that never expires while it
is served; a reader with a trust file refuses one that has (a frozen or replayed site).

The format of SHA256SUMS is `site.sums`; what a reader checks is `reader.trust`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from image_catalog import process
from image_catalog.catalog.git import GitRepo, resolve_commit
from image_catalog.errors import CatalogError, UsageError
from image_catalog.site.sums import NAMESPACE, SIGNATURE_FILE, SUMS_FILE, sums_header
from image_catalog.site.times import LAST_YEAR

SIGNING_KEY_ENV = "IMAGE_CATALOG_SIGNING_KEY_FILE"
_SIGN_TIMEOUT = 60.0
_KEY_TYPE = "ssh-ed25519"
_PROMPT = re.compile(r"^Enter passphrase[^:]*:\s*")
DEFAULT_VALID_FOR = timedelta(days=7)
_DURATION = re.compile(r"([0-9]{1,9})([dhm])")
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}


def parse_duration(text: str) -> timedelta:
    """'7d', '36h', '90m': how long a signed site stays valid; ValueError for anything else
    (zero, a sign, a fraction, another unit)."""
    found = _DURATION.fullmatch(text.strip())
    if found is None or int(found[1]) == 0:
        raise ValueError(
            f"{text!r} is not a duration: give a whole number above 0 of days, hours or minutes "
            "(7d, 36h, 90m)"
        )
    return int(found[1]) * _UNITS[found[2]]


def expiry(valid_for: timedelta, now: datetime | None = None) -> datetime:
    """When a site signed at `now` (default: this moment) for `valid_for` expires (UTC, to the
    second); a usage error when that is not after now or past the years a site may hold."""
    now = now if now is not None else datetime.now(UTC)
    if valid_for <= timedelta(0):
        raise UsageError(f"--valid-for {valid_for}: a signed index must stay valid for a while")
    try:
        expires = (now + valid_for).astimezone(UTC).replace(microsecond=0)
    except OverflowError:
        expires = None
    if expires is None or expires.year > LAST_YEAR:
        raise UsageError(
            f"--valid-for {valid_for.days} days: the index would expire after the year "
            f"{LAST_YEAR}, the last a site may name"
        )
    return expires


class SigningError(UsageError):
    """The signing key cannot be used; the message never names its path."""


@dataclass(frozen=True)
class SigningKey:
    """A private key file that ssh-keygen can sign with; `repr` shows only the fingerprint."""

    path: Path = field(repr=False)
    public_key: str = field(repr=False)
    fingerprint: str
    valid_for: timedelta = DEFAULT_VALID_FOR  # how long what it signs stays valid

    @classmethod
    def load(
        cls, option: Path | str | None, valid_for: timedelta = DEFAULT_VALID_FOR
    ) -> SigningKey | None:
        """The key given by --sign-key, else $IMAGE_CATALOG_SIGNING_KEY_FILE, else None; what
        it signs expires `valid_for` after the build."""
        expiry(valid_for)  # a usage error before the key is read
        chosen = option if option is not None else os.environ.get(SIGNING_KEY_ENV) or None
        if chosen is None:
            return None
        path = Path(chosen)
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise SigningError(
                f"the signing key file cannot be read ({exc.strerror or 'no such file'}); check "
                f"--sign-key or ${SIGNING_KEY_ENV}"
            ) from None
        if not stat.S_ISREG(mode):
            raise SigningError("the signing key is not a regular file; check --sign-key")
        if mode & 0o077:
            raise SigningError(
                f"the signing key file can be read by other users (mode {mode & 0o777:04o}); "
                "ssh-keygen refuses such a key: make it private (chmod 600)"
            )
        public = _run(path, ["-y", "-f", str(path)], b"", "read the signing key").decode()
        public = public.strip()
        key_type, _, rest = public.partition(" ")
        if key_type != _KEY_TYPE:
            raise SigningError(
                f"the signing key is a {key_type} key; the index is signed with an ed25519 key "
                "(ssh-keygen -t ed25519)"
            )
        return cls(path, public, _fingerprint(rest.partition(" ")[0]), valid_for)

    def sign(self, message: bytes) -> str:
        """The armored SSH signature of `message` in the index's namespace."""
        command = ["-Y", "sign", "-n", NAMESPACE, "-f", str(self.path)]
        signature = _run(self.path, command, message, "sign the index").decode("ascii")
        if not signature.startswith("-----BEGIN SSH SIGNATURE-----"):
            raise CatalogError("ssh-keygen gave no SSH signature when signing the index")
        return signature


def sign_site(site: Path, key: SigningKey) -> None:
    """Write SITE/SHA256SUMS.sig, the signature of SITE/SHA256SUMS."""
    signature = key.sign((site / SUMS_FILE).read_bytes())
    (site / SIGNATURE_FILE).write_text(signature, encoding="ascii")


def index_header(
    root: Path, commit: str | None, expires: datetime | None = None, *, dirty: bool = False
) -> str | None:
    """The header of SHA256SUMS for a site built from `commit` of the repository at `root`
    (with `expires`, when it is signed; `dirty`: with uncommitted changes on top of it)."""
    if commit is None:
        return None
    try:
        info = resolve_commit(GitRepo(root), commit)
    except UsageError:
        return None  # a commit named by the caller that this repository does not hold
    return sums_header(info.id, info.committer.time, expires, dirty=dirty)


def sums_header_for(
    root: Path, commit: str | None, key: SigningKey | None, *, dirty: bool = False
) -> str | None:
    """`index_header`, required when the site is signed: what is signed names its version,
    and when it expires (the key's `valid_for` from now), so a site built from uncommitted
    changes is never signed. An unsigned site names no expiry: nothing vouches for it, and its
    SHA256SUMS stays the same for the same catalog."""
    if key is not None and dirty:
        raise CatalogError(
            f"{root}: a signed index names the catalog commit it was built from, and the catalog "
            "has uncommitted changes; commit them first"
        )
    expires = expiry(key.valid_for) if key is not None else None
    header = index_header(root, commit, expires, dirty=dirty)
    if key is not None and header is None:
        raise UsageError(
            f"{root}: a signed index names the catalog commit and its time, and this catalog is "
            "not in a git repository (or its commit is unknown); commit it first"
        )
    return header


def _fingerprint(blob: str) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob (base64), as `ssh-keygen -l` shows it."""
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return "SHA256:?"
    digest = base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def _run(path: Path, arguments: list[str], stdin: bytes, doing: str) -> bytes:
    """Run ssh-keygen without a terminal or agent; errors never show the key's path."""
    try:
        done = process.run(
            ["ssh-keygen", *arguments],
            stdin=stdin,
            timeout=_SIGN_TIMEOUT,
            # No SSH_ASKPASS, no agent, no terminal: a passphrase cannot be asked for.
            env=process.environment(LC_ALL="C"),
        )
    except process.ExecutableNotFound as exc:
        raise SigningError(
            "ssh-keygen (OpenSSH 8.2 or later) is needed to sign the index; install OpenSSH"
        ) from exc
    except process.ProcessTimedOut:
        raise SigningError(f"ssh-keygen did not {doing} within {_SIGN_TIMEOUT:.0f} s") from None
    if done.code != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        lines = [_PROMPT.sub("", line).strip() for line in stderr.splitlines()]
        lines = [line for line in lines if line.strip("@ \t")]
        reason = "; ".join(lines[-2:]) or f"exit status {done.code}"
        reason = reason.replace(str(path), "the signing key")
        hint = ""
        if "passphrase" in reason:
            hint = " (the key must have no passphrase: keep it secret in the CI's secret store)"
        raise SigningError(f"ssh-keygen could not {doing}: {reason}{hint}")
    return done.stdout
