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
