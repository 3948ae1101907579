"""Consuming a site: `client` (IndexClient, the facade), `query` (planning), `sources` (the
protocol and the local folder), `http` with `cache`, `memo` and `transport` (a site over HTTP),
and `trust` (signature verification). Imports only `site/` and the foundation, so `query` and
`show` start fast and install light."""
