"""The published site: its formats (the contract), the build, the writer, the reader."""
