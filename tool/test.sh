#!/usr/bin/env bash
# The whole test suite: lint, format, types, committed schemas, the shell scripts, the package as
# a user installs it (check-installs.sh), then pytest (which starts real registries on loopback
# and makes real git repositories in temp folders).
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
set -x
ruff check tool tests benchmarks
ruff format --check tool tests benchmarks
mypy tool/image_catalog
lint-imports --no-cache
image-catalog schema --check
shellcheck -e SC1091 tool/*.sh  # SC1091: setup.sh is sourced by a path found at run time
bash tool/check-installs.sh     # pip install of the reader alone and of [author], in fresh venvs
python -m pytest "$@"
