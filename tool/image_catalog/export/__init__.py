"""The catalog as the build operator's `CatalogImage` resources, for a cluster to sync."""
