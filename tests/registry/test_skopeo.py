"""Which skopeo failures mean the registry was never connected to at all (the hint `validate
--online` gives for registries unreachable from here), and which do not."""

from __future__ import annotations

import pytest
from image_catalog.registry.errors import RegistryError, Unauthorized, Unreachable
from image_catalog.registry.skopeo import never_connected

REFUSED = 'pinging container registry 127.0.0.1:9: Get "http://127.0.0.1:9/v2/": dial tcp 127.0.0.1:9: connect: connection refused'  # noqa: E501
NO_HOST = "dial tcp: lookup registry.invalid on 127.0.0.53:53: no such host"


@pytest.mark.parametrize(
    ("error", "never"),
    [
        (Unreachable("down", detail=REFUSED), True),
        (Unreachable("down", detail=NO_HOST), True),
        (Unreachable("slow", detail="no answer within 5 s"), False),
        (Unreachable("slow", detail="i/o timeout"), False),
        (Unauthorized("refused", detail="unauthorized: authentication required"), False),
    ],
)
def test_never_connected(error: RegistryError, never: bool) -> None:
    assert never_connected(error) is never
