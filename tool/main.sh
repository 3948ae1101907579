#!/usr/bin/env bash
# The main job: validate the shipped catalog (offline: its registries are not reachable from here),
# build its static index into ./site, and query that index as a consumer would; then run the
# publish -> validate -> index -> audit loop against a throwaway registry on 127.0.0.1.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
echo "== validate the catalog"
image-catalog validate --catalog catalog
echo
echo "== build the static index into ./site (validates again, then replaces ./site in one step)"
image-catalog index build --catalog catalog --out site
echo
echo "== query: the newest version of every arm64 image (alias of aarch64), from ./site"
image-catalog query --index site --arch arm64
echo
echo "== query: every version for the rpi4 board, deprecated ones included"
image-catalog query --index site --target rpi4 --all-versions --include-deprecated
echo
echo "== show: what to flash for autosd10-rpi4 (its latest version: references, artifacts, checksums)"
image-catalog show autosd10-rpi4 --index site
echo
echo "== the whole loop on a throwaway registry at 127.0.0.1: publish an ImageBuild on a branch,"
echo "   validate it online against the base branch, index it, show it, pull its disk image, audit"
python tool/demo_publish.py
