"""The catalog's file formats: models, vocabulary, references, YAML in and out, JSON Schemas."""
