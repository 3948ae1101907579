"""image-catalog: a GitOps catalog of published automotive OS images."""

__version__ = "0.1.0"
