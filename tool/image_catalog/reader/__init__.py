"""Consuming a site: `IndexClient`, query planning, the HTTP transport, the cache and memo, trust
verification. Imports only `site/` and the foundation, so `query` and `show` start fast and install
light."""
