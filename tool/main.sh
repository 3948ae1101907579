#!/usr/bin/env bash
# The main job: validate the shipped catalog (offline: its registries are not reachable from here).
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
echo "== validate the catalog"
image-catalog validate --catalog catalog
