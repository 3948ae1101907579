"""Signed sites of a real git catalog, made with real ssh-keygen keys in temp folders; and a
site's SHA256SUMS header rewritten and signed again by the same key (an expired site, or one
from before the expiry was signed)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from image_catalog.build.signing import SigningKey, sign_site
from image_catalog.cli import main
from image_catalog.site.sums import SUMS_FILE

from support.git import GitWork
from support.keys import allowed_signers, make_key
from support.site import add_image, new_catalog


class SignedCatalog:
    """A catalog in git (two images) with a key: `build` makes a site of HEAD signed by it, and
    `trust` is the allowed_signers file that trusts it."""

    def __init__(self, root: Path) -> None:
        self.work = GitWork(root / "repo")
        self.catalog = new_catalog(self.work.root / "catalog")
        add_image(self.catalog, "board", "1", "2026-01-01T00:00:00Z", targets=("qemu",))
        add_image(self.catalog, "devbox", "1.0", "2026-01-02T00:00:00Z", targets=("pc",))
        self.work.commit("Two images", author="Admin")
        self.key = make_key(root / "keys", "index-key")
        self.trust = allowed_signers(root / "allowed_signers", self.key)

    def build(self, out: Path, *options: str) -> Path:
        code = main(["index", "build", "--catalog", str(self.catalog), "--out", str(out),
                     "--sign-key", str(self.key), *options])  # fmt: skip
        assert code == 0
        return out

    def add(self, name: str) -> str:
        """Commit one more image; the commit's id."""
        add_image(self.catalog, name, "1", "2026-01-09T00:00:00Z", targets=("qemu",))
        return self.work.commit(f"Add {name}", author="Admin")

    def resign(self, site: Path, expires: datetime | None) -> None:
        """Give `site` another expiry (none: the header of a site built before expiry was
        signed), signed by the catalog's key as a build would."""
        from image_catalog.site.sums import EXPIRY_PREFIX, sums_time  # only a site that expires

        path = site / SUMS_FILE
        lines = path.read_text().splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith(EXPIRY_PREFIX)]
        if expires is not None:
            kept.insert(1, f"{EXPIRY_PREFIX}{sums_time(expires)}\n")
        path.write_text("".join(kept))
        key = SigningKey.load(self.key)
        assert key is not None
        sign_site(site, key)
