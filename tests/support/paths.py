"""Where the tests find the repository, the shipped catalog and the example manifests.

Every path is computed from this file's place (tests/support/), never from the working folder,
so a test gives the same answer wherever pytest is started.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent
SHIPPED_CATALOG = REPO / "catalog"
EXAMPLES = TESTS / "examples"
FIXTURES = TESTS / "fixtures"

# Variables that would send the reader to the user's index, trust file or key, or through a proxy.
READER_VARIABLES = (
    "IMAGE_CATALOG_INDEX",
    "IMAGE_CATALOG_TRUST",
    "IMAGE_CATALOG_SIGNING_KEY_FILE",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "all_proxy",
    "no_proxy",
    "NO_PROXY",
)
