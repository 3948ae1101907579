"""Consuming a site: `client` (IndexClient, the facade), `query` (planning), `sources` (the
protocol and the local folder), `http` with `cache` and `memo` (a site over HTTP, through `web`),
and `trust` (signature verification). Imports only `site/` and the foundation, so `query` and
`show` start fast and install light."""
