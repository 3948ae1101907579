#!/usr/bin/env bash
# Installs image-catalog as a user would, twice, each into a fresh virtual environment under a
# temp folder, from one wheel built from this tree (not editable): the reader install
# (`pip install image-catalog`: msgspec alone) and the full one (`image-catalog[author]`). In each
# it runs --version, --help, a query and show against a site the full install builds from the
# shipped catalog, and the Python client; in the reader's it also checks that nothing but
# image-catalog and msgspec was installed and that an authoring command says what to install
# (exit 2). Prints each install's time and size. Called by test.sh; runs on its own with a Python
# that has pip (PYTHON, default python3), reaching the package registry or pip's cache.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/check-installs.XXXXXX")
trap 'rm -rf "$work"' EXIT
# What the installed package reads from this shell must not come from the tree or the user.
unset PYTHONPATH PYTHONHOME IMAGE_CATALOG_INDEX IMAGE_CATALOG_TRUST IMAGE_CATALOG_DIR
export IMAGE_CATALOG_CACHE_DIR="$work/cache"
pip=("$python" -m pip --disable-pip-version-check --quiet)

fail() {
  echo "check-installs: $*" >&2
  exit 1
}

# Seconds since `start` (date +%s%N), to a tenth.
elapsed() {
  local now
  now=$(date +%s%N)
  awk -v ns="$((now - $1))" 'BEGIN { printf "%.1f s", ns / 1e9 }'
}

# Build from a copy: setuptools writes build/ and an .egg-info folder beside the sources. The
# catalog is copied too: validate and index build keep caches beside the catalog.
mkdir "$work/src"
tar -C "$repo" --exclude=__pycache__ -cf - pyproject.toml README.md tool | tar -C "$work/src" -xf -
cp -r "$repo/catalog" "$work/catalog"
start=$(date +%s%N)
"${pip[@]}" wheel --no-deps --wheel-dir "$work/dist" "$work/src" >/dev/null
wheels=("$work"/dist/image_catalog-*.whl)
wheel=${wheels[0]}
echo "check-installs: built $(basename "$wheel") in $(elapsed "$start")"

# A venv without pip of its own (creating one with pip takes seconds): this Python's pip installs
# into it with --python.
install() {
  local venv=$1 requirement=$2
  "$python" -m venv --without-pip "$venv"
  start=$(date +%s%N)
  "${pip[@]}" --python "$venv/bin/python" install "$requirement"
  echo "check-installs: pip install '${requirement/#"$work"\/dist\//}' took $(elapsed "$start"):" \
    "$(du -sh "$venv" | cut -f1) in the venv," \
    "$(du -sh "$venv"/lib/python3*/site-packages | cut -f1) in site-packages"
}

install "$work/reader" "$wheel"
install "$work/full" "${wheel}[author]"
(cd "$work" && "$work/full/bin/image-catalog" index build --catalog catalog --out site >/dev/null)

for venv in "$work/reader" "$work/full"; do
  bin="$venv/bin"
  echo "check-installs: in the $(basename "$venv") install"
  (
    cd "$work"
    "$bin/image-catalog" --version
    # Read whole before grep: a grep that stops early must not make the command fail on its pipe.
    said=$("$bin/image-catalog" --help)
    grep -q '^    validate ' <<<"$said" || fail "--help does not list validate"
    said=$("$bin/image-catalog" query --index site --target rpi4)
    grep -q '^autosd10-rpi4 ' <<<"$said" || fail "query does not list autosd10-rpi4: $said"
    "$bin/image-catalog" show autosd10-rpi4 --index site --json >/dev/null
    "$bin/image-catalog" pull --help >/dev/null
    "$bin/python" -c '
import sys
from image_catalog.reader import IndexClient, Query
images = IndexClient(sys.argv[1]).query(Query(target="rpi4")).images
assert [i.name for i in images] == ["autosd10-rpi4"], images
' site
  )
done

# The reader install holds image-catalog and msgspec, nothing else (pip list says nothing with -q).
installed=$("$python" -m pip --python "$work/reader/bin/python" list --format=freeze |
  cut -d= -f1 | grep -vx -e pip -e setuptools | sort | tr '\n' ' ')
[ "$installed" = "image-catalog msgspec " ] || fail "the reader install holds: $installed"

# An authoring command there says what to install, with the usage error's exit code.
expected="error: 'image-catalog validate' needs the authoring extra: pip install"
expected+=" 'image-catalog[author]' (missing: pydantic, ruamel.yaml, PyYAML, pygit2, jinja2)"
for args in "validate" "validate --help"; do
  code=0
  # shellcheck disable=SC2086 # the words of $args are the arguments
  said=$(cd "$work" && "$work/reader/bin/image-catalog" $args 2>&1) || code=$?
  [ "$code" = 2 ] || fail "image-catalog $args exited $code in the reader install: $said"
  [ "$said" = "$expected" ] || fail "image-catalog $args said: $said"
done
(cd "$work" && "$work/full/bin/image-catalog" validate --catalog catalog >/dev/null)
echo "check-installs: both installs work"
