"""Observing the registries the catalog points at, and carrying the history of what was seen."""
