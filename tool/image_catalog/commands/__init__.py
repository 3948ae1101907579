"""One module per use case: each takes a typed settings object and returns a result object."""
