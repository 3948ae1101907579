"""`web.errors.redact`: a URL as messages show it, without what would leak a secret."""

from __future__ import annotations

import pytest
from image_catalog.web.errors import redact


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://index.example.com/site/", "https://index.example.com/site/"),
        ("https://user:pw@index.example.com/site", "https://***@index.example.com/site"),
        (
            "https://bucket.s3.example.com/disk.img?X-Amz-Signature=s3cret&X-Amz-Expires=60",
            "https://bucket.s3.example.com/disk.img?***",
        ),
        ("https://cdn.example.com/disk.img#token=s3cret", "https://cdn.example.com/disk.img"),
        ("https://u:p@cdn.example.com/x?sig=s3cret", "https://***@cdn.example.com/x?***"),
    ],
)
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown
