"""Producing a site: the build pipeline, rendering, the entry cache, the writer, the output folder
(staging, the kept site, the lock, the swap) and signing."""
