"""Consuming a site: `client` (IndexClient, the facade), `query` (planning), `sources` (the
protocol and the local folder), `http` with `cache` and `memo` (a site over HTTP, through `web`),
and `trust` (signature verification). Imports only `site/` and the foundation, so `query` and
`show` start fast and install light: a reader install (`pip install image-catalog`, msgspec alone)
has all of it. `IndexClient` and `Query` are exported here as well as from `client`."""

from image_catalog.reader.client import IndexClient, Query

__all__ = ["IndexClient", "Query"]
