"""Publishing: ImageBuild reading, the draft that becomes a CatalogImage, the branch commit."""
