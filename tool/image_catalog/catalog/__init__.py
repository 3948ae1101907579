"""A catalog as a whole: its source, loading, problems, offline validation, review, audit."""
