"""Trusting a signed index: its SHA256SUMS signature, each file's hash, and no rollback.

A signed site carries `SHA256SUMS.sig`, an SSH signature (namespace `image-catalog-index`) of
`SHA256SUMS`, whose first line names the catalog commit the site was built from and its commit
time:

    # image-catalog index: catalog commit 0123...cdef, committed 2026-01-31T12:00:00Z
    # image-catalog index: expires 2026-02-07T12:00:00Z
    e3b0c442...  catalog.json
    ...

`sha256sum -c` skips the '#' lines. A reader with a trust file (an OpenSSH `allowed_signers` file
naming the principal `catalog`) accepts a site only when

1. `ssh-keygen -Y verify` accepts the signature of SHA256SUMS with a key of the trust file;
2. every file it reads has the sha256 SHA256SUMS lists for it (checked before the file is parsed,
   used or cached);
3. the signed commit time is newer than the newest this reader has already accepted from the
   same location, or it is that same commit (an attacker who replays an older, validly signed
   site is refused, and so is another commit of the same second: a parent and its child can
   share a commit time);
4. the site has not expired: the signed header's second line says until when the signature
   vouches for it (every build signs anew, so a live site never comes near it). A frozen server,
   or one replaying an old site to a reader with an empty cache, is refused that way. A signed
   header without that line (a site built before it was written, or a replay of one) is refused
   too, since nothing bounds its age. `allow_expired` reads either anyway, with a warning, to
   look into what a server serves; the other checks still hold.

Verification runs the stock `ssh-keygen` (OpenSSH 8.2 or later): it is the tool the README's
manual check uses, so both read the allowed_signers file the same way, and it costs the reader no
import (the `sshsig` package pulls in `cryptography`, which alone costs more than a whole query).

This module is on the reader's side: it imports nothing from the authoring side, and the client
imports it only when a trust file is configured.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from image_catalog.errors import CatalogError, UsageError
from image_catalog.fsutil import atomic_write_text
from image_catalog.reader.sources import NotInIndex
from image_catalog.site.sums import (
    EXPIRY_PREFIX,
    NAMESPACE,
    PRINCIPAL,
    SIGNATURE_FILE,
    SUMS_FILE,
    listed_digest,
    parse_expiry,
    parse_header,
    sums_time,
)
from image_catalog.site.times import FIRST_YEAR, LAST_YEAR

_VERIFY_TIMEOUT = 60.0

T = TypeVar("T")
In = TypeVar("In", bound=bytes | str)
# How the reader hands a file to a check: its bytes (or text) and where it was read.
Check = Callable[[bytes | str, str], T]
# Read a file of the site (through the reader's cache) and return what `Check` made of it.
ReadRaw = Callable[[str, Check[T]], T]


class UntrustedIndex(CatalogError):
    """The index does not prove it is what the catalog's CI signed; nothing of it is used."""


class SignatureRefused(UntrustedIndex):
    """SHA256SUMS.sig or SHA256SUMS is missing, or the signature is not a valid one by a key of
    the trust file; the message says which."""


class HashMismatch(UntrustedIndex):
    """A file's sha256 is not the one the signed SHA256SUMS lists (or it is not listed)."""


class Rollback(UntrustedIndex):
    """The signed site is older than one this reader has already accepted from there."""


class Expired(UntrustedIndex):
    """The signed site has expired, or its signed header states no expiry."""


def trust_file(chosen: Path | str) -> Path:
    """The trust file given (by --trust or $IMAGE_CATALOG_TRUST), which must exist and list a
    key: with none, every site would be refused, whoever signed it."""
    path = Path(chosen)
    if not path.is_file():
        raise UsageError(
            f"--trust {path}: no such file (an OpenSSH allowed_signers file naming the principal "
            f"{PRINCIPAL!r}, such as the catalog repository's allowed_signers)"
        )
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"--trust {path}: cannot read: {exc.strerror or exc}") from exc
    # OpenSSH skips blank lines and lines that start with '#'.
    if not any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
        raise UsageError(
            f"{path} lists no signer key: add the publisher's key (a line '{PRINCIPAL} "
            f'namespaces="{NAMESPACE}" ssh-ed25519 AAAA...\'), see docs/signing.md'
        )
    return path


@dataclass(frozen=True)
class SignedSums:
    """A SHA256SUMS whose signature was verified: the catalog commit, its time, every hash."""

    text: str
    commit: str
    committed: datetime
    where: str
    expires: datetime | None = None  # None: a header from before expiry was signed
    warning: str | None = field(default=None, compare=False)  # read though expired

    @classmethod
    def parse(cls, text: str, where: str) -> SignedSums:
        first, _, rest = text.partition("\n")
        header = parse_header(first)
        if header is None:
            raise SignatureRefused(
                f"{where}: the first line does not name the catalog commit and its commit time "
                "(an index built by an older image-catalog?); refusing it"
            )
        commit, committed = header
        second = rest.partition("\n")[0]
        expires = parse_expiry(second)
        if expires is None and second.startswith(EXPIRY_PREFIX):
            raise SignatureRefused(
                f"{where}: the second line does not give the expiry as a UTC time of the years "
                "1970 to 9998; refusing it"
            )
        return cls(text, commit, committed, where, expires)

    def digest(self, relative: str) -> str | None:
        """The sha256 listed for `relative`, or None when SHA256SUMS does not list it."""
        return listed_digest(self.text, relative)

    def check(self, relative: str, data: bytes, where: str) -> None:
        """Refuse `data` unless its sha256 is the one listed for `relative`."""
        listed = self.digest(relative)
        if listed is None:
            raise HashMismatch(
                f"{where}: not listed in the signed {SUMS_FILE} ({self.where}); refusing it"
            )
        actual = hashlib.sha256(data).hexdigest()
        if actual != listed:
            raise HashMismatch(
                f"{where}: sha256 {actual} does not match {listed}, the hash the signed "
                f"{SUMS_FILE} lists for {relative}: the file was altered or is from another "
                "build; refusing it"
            )

    def checked(self, relative: str, parse: Callable[[In, str], T]) -> Callable[[In, str], T]:
        """`parse`, preceded by the hash check of `relative`: what fails it is never parsed."""

        def check_then_parse(data: In, where: str) -> T:
            self.check(relative, _bytes(data), where)
            return parse(data, where)

        return check_then_parse

    @property
    def described(self) -> str:
        return f"catalog commit {self.commit[:12]} of {sums_time(self.committed)}"

    def expired(self, now: float) -> bool:
        """Whether the signature no longer vouches for the site at `now` (or never said until
        when it does)."""
        return self.expires is None or self.expires.timestamp() <= now


def verify_signature(message: bytes, signature: str, trust_file: Path, where: str) -> None:
    """Check that `signature` signs `message` with a key `trust_file` allows for `catalog`.

    Runs `ssh-keygen -Y verify` through `process.run` (an argument list, no shell, a minimal
    environment); the signature goes through a private temp file since ssh-keygen reads the
    message from stdin.
    """
    # Imported here: a reader without a trust file does not pay for them.
    import tempfile

    from image_catalog import process

    with tempfile.TemporaryDirectory(prefix="image-catalog-verify-") as folder:
        signature_path = Path(folder) / SIGNATURE_FILE
        signature_path.write_text(signature, encoding="utf-8")
        command = [
            "ssh-keygen",
            "-Y",
            "verify",
            "-f",
            str(trust_file),
            "-I",
            PRINCIPAL,
            "-n",
            NAMESPACE,
            "-s",
            str(signature_path),
        ]
        try:
            done = process.run(
                command,
                stdin=message,
                timeout=_VERIFY_TIMEOUT,
                env=process.environment(LC_ALL="C"),
            )
        except process.ExecutableNotFound as exc:
            raise UsageError(
                "ssh-keygen (OpenSSH 8.2 or later) is needed to verify a signed index; install "
                "OpenSSH, or drop --trust / $IMAGE_CATALOG_TRUST to read the index unverified"
            ) from exc
        except process.ProcessTimedOut as exc:
            raise SignatureRefused(
                f"{where}: ssh-keygen did not finish verifying the signature within "
                f"{_VERIFY_TIMEOUT:.0f} s"
            ) from exc
        if done.code == 0:
            return
        refused = (
            f"{where}: the signature is not valid for {SUMS_FILE} by a key that {trust_file} "
            f"allows for {PRINCIPAL!r} in namespace {NAMESPACE!r}"
        )
        signer = _signer(message, signature_path)
    if signer is not None:
        raise SignatureRefused(
            f"{refused}: it was made by {signer}, which {trust_file} does not list (add the "
            "publisher's new key if they changed keys, see docs/signing.md); refusing the index"
        )
    reason = _reason(done.stderr.decode("utf-8", "replace"), signature_path, trust_file)
    raise SignatureRefused(f"{refused} ({reason}); refusing the index")


# ssh-keygen -Y check-novalidate: 'Good "NAMESPACE" signature with ED25519 key SHA256:...'
_GOOD_SIGNATURE = re.compile(r"signature with (\S+ key SHA256:[A-Za-z0-9+/=]+)")


def _signer(message: bytes, signature_path: Path) -> str | None:
    """The key that made a signature the trust file refused, when the signature is a valid one
    of `message` (so the refusal is the key's): e.g. `ED25519 key SHA256:...`; else None."""
    from image_catalog import process

    command = ["ssh-keygen", "-Y", "check-novalidate", "-n", NAMESPACE, "-s", str(signature_path)]
    try:
        done = process.run(
            command, stdin=message, timeout=_VERIFY_TIMEOUT, env=process.environment(LC_ALL="C")
        )
    except (process.ExecutableNotFound, process.ProcessTimedOut):
        return None
    if done.code != 0:
        return None
    found = _GOOD_SIGNATURE.search((done.stdout + done.stderr).decode("utf-8", "replace"))
    return found.group(1) if found else None


def _reason(stderr: str, signature_path: Path, trust_file: Path) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = "; ".join(lines[:2]) or "ssh-keygen found no key of the trust file that made it"
    return text.replace(str(signature_path), SIGNATURE_FILE).replace(str(trust_file), "trust file")


class SeenSites:
    """The newest signed commit time accepted from each location, kept under the cache folder.

    One small JSON file per location; a damaged file counts as nothing seen.
    """

    def __init__(self, root: Path) -> None:
        self.root = root / "trust"

    def _path(self, location: str) -> Path:
        return self.root / f"{hashlib.sha256(location.encode('utf-8')).hexdigest()[:40]}.json"

    def newest(self, location: str) -> tuple[str, datetime] | None:
        try:
            data = json.loads(self._path(location).read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("location") != location:
                return None
            committed = datetime.fromisoformat(str(data["committed"]).replace("Z", "+00:00"))
            if committed.tzinfo is None or not FIRST_YEAR <= committed.year <= LAST_YEAR:
                return None  # not comparable with a signed time: as damaged as any other
            return str(data["commit"]), committed
        except (OSError, ValueError, KeyError, RecursionError):
            return None  # nested past the decoder's depth is as damaged as any other

    def check(self, location: str, sums: SignedSums) -> None:
        """Refuse a site of another commit not newer than the newest seen here; remember this
        one if it is newer."""
        self.refuse_rollback(location, sums)
        self.record(location, sums)

    def refuse_rollback(self, location: str, sums: SignedSums) -> None:
        """Refuse a site of another commit not newer than the newest seen here.

        Commit times have a resolution of one second, and a parent and its child can share one:
        a different commit at the same time is refused too, since which of them is newer cannot
        be told (the same commit again is the same site)."""
        seen = self.newest(location)
        if seen is None:
            return
        commit, committed = seen
        if sums.commit == commit and sums.committed == committed:
            return
        if sums.committed <= committed:
            than = "older than" if sums.committed < committed else "not newer than"
            raise Rollback(
                f"{sums.where}: signed for {sums.described}, {than} catalog commit "
                f"{commit[:12]} of {sums_time(committed)} already seen from {location}: a "
                "replayed (rolled back) index; refusing it"
            )

    def record(self, location: str, sums: SignedSums) -> None:
        """Remember `sums` as the newest seen here, once `refuse_rollback` let it through (the
        newest seen never goes back: only a newer site is written)."""
        seen = self.newest(location)
        if seen is not None and sums.committed <= seen[1]:
            return
        record = {
            "location": location,
            "commit": sums.commit,
            "committed": sums.committed.isoformat().replace("+00:00", "Z"),
        }
        try:
            atomic_write_text(self._path(location), json.dumps(record, sort_keys=True) + "\n")
        except OSError as exc:
            raise CatalogError(
                f"{self.root}: cannot record the signed index's commit time, which guards "
                f"against rollbacks: {exc.strerror or exc}"
            ) from exc


@dataclass(frozen=True)
class Trust:
    """What a reader with a trust file checks; `accept` returns the verified SHA256SUMS."""

    trust_file: Path
    seen: SeenSites
    clock: Callable[[], float] = time.time
    allow_expired: bool = False  # read an expired site anyway, with a warning

    @classmethod
    def of(
        cls,
        trust_file: Path,
        cache_dir: Path,
        clock: Callable[[], float] = time.time,
        *,
        allow_expired: bool = False,
    ) -> Trust:
        return cls(trust_file, SeenSites(cache_dir), clock, allow_expired)

    def unsigned(self, location: str, has_sums: bool) -> SignatureRefused:
        """The refusal of a site without SHA256SUMS.sig, saying whether it has SHA256SUMS."""
        has = (
            f"has {SUMS_FILE} but no {SIGNATURE_FILE}"
            if has_sums
            else f"has neither {SUMS_FILE} nor {SIGNATURE_FILE}"
        )
        return SignatureRefused(
            f"{location}: the site {has}: it is not signed, and a trust file "
            f"({self.trust_file}) is configured; refusing it"
        )

    def signed_sums(self, location: str, read: ReadRaw[SignedSums]) -> SignedSums:
        """Read SHA256SUMS.sig, then SHA256SUMS, and accept them; each is checked before the
        reader may cache it (SHA256SUMS inside the signature's check, so both are verified).
        A missing file is named: the signature, SHA256SUMS, or both."""

        def with_signature(signature: bytes | str, where: str) -> SignedSums:
            try:
                text = _bytes(signature).decode("ascii")
            except UnicodeDecodeError as exc:
                raise SignatureRefused(f"{where}: not an SSH signature (not ASCII text)") from exc

            def accept_sums(sums: bytes | str, sums_where: str) -> SignedSums:
                return self.accept(location, _bytes(sums), text, sums_where)

            try:
                return read(SUMS_FILE, accept_sums)
            except NotInIndex as exc:
                # Converted here, inside the signature's check: a NotInIndex would read as the
                # signature's own absence.
                raise SignatureRefused(
                    f"{location}: the site has {SIGNATURE_FILE} but no {SUMS_FILE}, the file it "
                    "signs; refusing it"
                ) from exc

        try:
            return read(SIGNATURE_FILE, with_signature)
        except NotInIndex as exc:
            no_signature = exc

        def refuse(_sums: bytes | str, _where: str) -> SignedSums:
            raise self.unsigned(location, has_sums=True)  # never kept: refused before caching

        try:
            read(SUMS_FILE, refuse)
        except NotInIndex:
            raise self.unsigned(location, has_sums=False) from no_signature
        raise AssertionError("refuse() returned")

    def accept(self, location: str, sums: bytes, signature: str | None, where: str) -> SignedSums:
        if signature is None:
            raise self.unsigned(location, has_sums=True)
        verify_signature(sums, signature, self.trust_file, where)
        try:
            text = sums.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SignatureRefused(f"{where}: not UTF-8 text") from exc
        signed = SignedSums.parse(text, where)
        self.seen.refuse_rollback(location, signed)
        signed = self.unexpired(signed)
        self.seen.record(location, signed)
        return signed

    def unexpired(self, signed: SignedSums) -> SignedSums:
        """`signed`, unless it has expired (or states no expiry): then `Expired`, or with
        `allow_expired` the same with a warning."""
        now = self.clock()
        if not signed.expired(now):
            return signed
        when = datetime.fromtimestamp(int(now), UTC)
        if signed.expires is None:
            what = (
                f"{signed.where}: the signed header of {signed.described} states no expiry (an "
                "index built by an image-catalog older than signed expiry, or a replay of one), "
                "so nothing bounds its age"
            )
        else:
            what = (
                f"{signed.where}: the signed index ({signed.described}) expired at "
                f"{sums_time(signed.expires)}, before now ({sums_time(when)}): the server is "
                "serving a stale site (a live one is signed anew by every build)"
            )
        if not self.allow_expired:
            raise Expired(f"{what}; refusing it (--allow-expired reads it anyway)")
        return replace(signed, warning=f"{what}; read anyway (--allow-expired)")


def _bytes(data: bytes | str) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data
