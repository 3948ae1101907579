"""Checks of unchanged files kept between runs, keyed by git blob ids.

The cache is one file per catalog folder under `.cache/image-catalog/` at the top of the git work
tree (next to the catalog folder outside one): never inside the catalog data. It maps each image
file's path to the blob id of the content that was checked, the file's status then, and the
`EntryFacts` found, and is valid only for the same tool code, schema and vocabulary (its key). It
is a cache, never a source of truth: a file that is missing, unreadable, truncated, fails its
checksum, does not decode into the expected types or has another key is discarded and the catalog
is checked afresh. It holds plain typed data (msgpack decoded into declared structs, never
pickle) and is replaced in one rename, so a run interrupted while writing it leaves the previous
one (and a temp file, which the next run sweeps once its writer is gone).
"""

from __future__ import annotations

import functools
import hashlib
import sys
import zlib
from pathlib import Path
from typing import TypeVar

import msgspec

import image_catalog
from image_catalog.catalog.blobs import work_tree_top
from image_catalog.catalog.facts import EntryFacts
from image_catalog.catalog.loader import FileStatus
from image_catalog.collector import paused
from image_catalog.fsutil import atomic_write_bytes, sweep_temp_leftovers
from image_catalog.manifest.types import API_VERSION

CACHE_FOLDER = Path(".cache") / "image-catalog"
_MAGIC = b"image-catalog facts cache 3\n"
# A CRC-32 of the body: it only has to catch a damaged file (whose payload would not be what was
# written); a foreign one fails the magic line or the key. Twice as fast as sha256 here.
_DIGEST_BYTES = 4
_HEADER_BYTES = len(_MAGIC) + _DIGEST_BYTES


class CachedFile(msgspec.Struct, frozen=True, array_like=True):
    blob: str
    facts: EntryFacts
    # The file's size, mtime, ctime and inode when its blob id was found (`loader._status`), if
    # they were old enough to be trusted: while they stay the same, the file is not read again.
    status: FileStatus | None = None


class _Payload(msgspec.Struct, frozen=True):
    key: str
    files: dict[str, CachedFile]


T = TypeVar("T")


def read_cache(path: Path, kind: type[T]) -> tuple[T | None, str | None]:
    """The payload of the cache file at `path` decoded as `kind`, or None and why not.

    A missing file gives (None, None); anything but an intact file of this tool gives a reason.
    A temp file a writer of this cache left when it was killed goes first: every run reads the
    cache, not every run writes it.
    """
    sweep_temp_leftovers(path.parent, path.name)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    if not raw.startswith(_MAGIC):
        return None, "not a cache of this tool"
    digest = raw[len(_MAGIC) : _HEADER_BYTES]
    with memoryview(raw) as view:
        body = view[_HEADER_BYTES:]  # not copied: tens of megabytes
        if _checksum(body) != digest:
            return None, "checksum mismatch"
        # Decoding makes about a million small objects, none in a reference cycle.
        with paused():
            try:
                payload = msgspec.msgpack.decode(body, type=kind)
            except (msgspec.DecodeError, msgspec.ValidationError):
                return None, "malformed"
            finally:
                body.release()
    return payload, None


def _checksum(body: memoryview | bytes) -> bytes:
    return zlib.crc32(body).to_bytes(_DIGEST_BYTES, "big")


def write_cache(path: Path, payload: object) -> bool:
    """Replace the cache file at `path` in one rename; False when it cannot be written."""
    # Encoded after room for the header, which is then filled in: the body is never copied.
    data = bytearray(_HEADER_BYTES)
    msgspec.msgpack.Encoder().encode_into(payload, data, _HEADER_BYTES)
    with memoryview(data) as view, view[_HEADER_BYTES:] as body:
        digest = _checksum(body)
    data[:_HEADER_BYTES] = _MAGIC + digest
    try:
        # No fsync: a crash may lose a cache (its checksum then discards it), never half-write one.
        atomic_write_bytes(path, data, durable=False)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            atomic_write_bytes(ignore, b"*\n")  # never committed, whatever the repository ignores
    except OSError:
        return False  # a read-only checkout still works, only without reuse
    return True


@functools.cache
def code_fingerprint() -> str:
    """The tool's version, the schema's apiVersion and a hash of the package's code.

    Hashing the code means a changed check is never answered from a cache written by older code,
    even between releases.
    """
    package = Path(image_catalog.__file__).parent
    digest = hashlib.sha256(_dependencies().encode() + b"\0")
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return f"{image_catalog.__version__} {API_VERSION} {digest.hexdigest()[:32]}"


def _dependencies() -> str:
    """The versions of what the checks, the documents and their compression are made with: a
    new one may check, encode or compress differently (all of them loaded by then anyway)."""
    import pydantic
    import pydantic_core
    import ruamel.yaml
    import yaml

    versions = {
        "python": sys.version,
        "msgspec": msgspec.__version__,
        "pydantic": pydantic.VERSION,
        "pydantic-core": pydantic_core.__version__,
        "pyyaml": yaml.__version__,
        "ruamel.yaml": ruamel.yaml.__version__,
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
    }
    return " ".join(f"{name}={version}" for name, version in versions.items())


def cache_file(root: Path) -> Path:
    """Where the cache of the catalog folder `root` lives."""
    absolute = root.resolve()
    top = work_tree_top(absolute) or absolute.parent
    try:
        name = absolute.relative_to(top).as_posix()
    except ValueError:
        name = absolute.as_posix()
    tag = hashlib.sha256(name.encode()).hexdigest()[:16]
    return top / CACHE_FOLDER / f"facts-{tag}.msgpack"


class FactsCache:
    """The cached facts of one catalog folder, for one key (code and vocabulary)."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key
        self.files: dict[str, CachedFile] = {}
        self.discarded: str | None = None  # why an existing cache file was not used
        self._dirty = False

    @classmethod
    def open(cls, path: Path, key: str) -> FactsCache:
        """Read the cache at `path`; anything but an intact cache for `key` reads as empty."""
        cache = cls(path, key)
        payload, cache.discarded = read_cache(path, _Payload)
        if payload is not None:
            if payload.key != key:
                cache.discarded = "written by another version of the tool or for another vocabulary"
            else:
                cache.files = payload.files
        return cache

    def get(self, relative: str, blob: str | None) -> EntryFacts | None:
        """The facts of `relative` when they were found for exactly this content."""
        if blob is None:
            return None
        cached = self.files.get(relative)
        return cached.facts if cached is not None and cached.blob == blob else None

    def knows(self, relative: str) -> bool:
        return relative in self.files

    def blob(self, relative: str, status: FileStatus | None) -> str | None:
        """The blob id of `relative` found earlier, if its status has not changed since."""
        cached = self.files.get(relative)
        if cached is None or status is None or cached.status != status:
            return None
        return cached.blob

    def put(
        self,
        relative: str,
        blob: str | None,
        facts: EntryFacts,
        status: FileStatus | None = None,
    ) -> None:
        """Keep the facts found for this content, and the file status it was found with."""
        if blob is None:  # content unknown (an unreadable file): check it again next time
            if self.files.pop(relative, None) is not None:
                self._dirty = True
            return
        cached = self.files.get(relative)
        if (
            cached is None
            or cached.blob != blob
            or cached.facts != facts
            or cached.status != status
        ):
            self.files[relative] = CachedFile(blob, facts, status)
            self._dirty = True

    def seen(self, relative: str, status: FileStatus | None) -> None:
        """Record the status a file whose facts were reused has now."""
        cached = self.files.get(relative)
        if cached is not None and cached.status != status:
            self.files[relative] = CachedFile(cached.blob, cached.facts, status)
            self._dirty = True

    def keep_only(self, relatives: set[str]) -> None:
        """Forget the files that are gone."""
        gone = self.files.keys() - relatives
        for relative in gone:
            del self.files[relative]
        self._dirty = self._dirty or bool(gone)

    def save(self) -> None:
        """Write the cache if anything changed; a cache that cannot be written is skipped."""
        if not self._dirty and self.discarded is None:
            return
        if not write_cache(self.path, _Payload(self.key, dict(sorted(self.files.items())))):
            return
        self._dirty = False
        self.discarded = None
