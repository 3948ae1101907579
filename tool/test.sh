#!/usr/bin/env bash
# The whole test suite: lint, format, types, committed schemas, then pytest (which starts real
# registries on loopback and makes real git repositories in temp folders).
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
set -x
ruff check tool tests benchmarks
ruff format --check tool tests benchmarks
mypy tool/image_catalog
lint-imports --no-cache
image-catalog schema --check
python -m pytest "$@"
