#!/usr/bin/env bash
# Installs what image-catalog needs on a Debian-like machine, then leaves the virtual environment
# active: Debian's skopeo, docker-registry, apache2-utils and shellcheck when missing (as root), and
# the package with its test tools in .venv (reinstalled only when pyproject.toml changes) and its
# bytecode. Sourced by main.sh and test.sh.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
missing=()
command -v skopeo >/dev/null || missing+=(skopeo)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
command -v shellcheck >/dev/null || missing+=(shellcheck)  # actionlint checks run: scripts with it
command -v ssh-keygen >/dev/null || missing+=(openssh-client)  # signs and verifies the index
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]} from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
  fi
fi

venv="$repo/.venv"
stamp="$venv/.installed-$(sha256sum "$repo/pyproject.toml" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing image-catalog and its test tools into .venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "${repo}[test]"
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi
# shellcheck disable=SC1091
source "$venv/bin/activate"
cd "$repo"
# The package's bytecode, as an installed package has it: an editable install leaves it to the
# first import, which PYTHONDONTWRITEBYTECODE=1 forbids, and every command would then compile
# its modules again (a tenth of a second). Only what changed is compiled.
python -m compileall -q tool/image_catalog
