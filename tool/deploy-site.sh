#!/usr/bin/env bash
# Builds the site GitHub Pages publishes, signs it when a key is given, and verifies it the way a
# consumer does (docs/signing.md) before anything can be deployed. It is the one way to the
# published site: .github/workflows/deploy-site.yml runs it for publish-index.yml and check.yml.
#
#   tool/deploy-site.sh build  --out DIR --base-url URL [--status FILE] [--allowed-signers FILE]
#   tool/deploy-site.sh verify --out DIR [--signed] [--allowed-signers FILE]
#
# build: the health status is FILE (the fresh one of a health check), else the published
# URL/status.json carried over, so the health stays on the site. A site that has none yet (404) is
# built without health, with a warning; a published status that cannot be fetched fails the build
# (exit 4) rather than drop the history the next check starts from.
# The signing key is the content of $INDEX_SIGNING_KEY (the secret): it is written to a 0600 file
# in a private folder for the build only, reaches image-catalog as $IMAGE_CATALOG_SIGNING_KEY_FILE
# (never argv), and is removed when the script ends, whatever happened. Without it the site is
# unsigned, with a warning.
# verify: `ssh-keygen -Y verify` of SHA256SUMS.sig against allowed_signers (default
# ./allowed_signers, the repository's), required with --signed (build passes it when it signed)
# and whenever the signature is there; then `sha256sum --strict -c SHA256SUMS` over the site.
# A build whose verification fails removes what it built: nothing unverified is left to deploy.
#
# Exit: 0 built and verified; 1 the site does not verify; 2 usage; 4 the published status could
# not be fetched; image-catalog's own code when the build fails.
set -euo pipefail

# The principal and namespace the index is signed for (image_catalog.site.sums).
readonly PRINCIPAL=catalog NAMESPACE=image-catalog-index

fail() {
  local code=$1
  shift
  echo "::error::deploy-site: $*" >&2
  exit "$code"
}

usage() {
  fail 2 "$1 (usage: deploy-site.sh build --out DIR --base-url URL [--status FILE]" \
    "[--allowed-signers FILE] | deploy-site.sh verify --out DIR [--signed]" \
    "[--allowed-signers FILE])"
}

verify() {
  local site=$1 signed=$2 allowed=$3
  [ -d "$site" ] || fail 1 "$site: no site to verify"
  [ -f "$site/SHA256SUMS" ] || fail 1 "$site/SHA256SUMS: missing; nothing is deployed"
  if [ "$signed" = yes ] || [ -e "$site/SHA256SUMS.sig" ]; then
    [ -f "$site/SHA256SUMS.sig" ] ||
      fail 1 "$site/SHA256SUMS.sig: missing, and a signing key is configured; nothing is deployed"
    [ -f "$allowed" ] || fail 1 "$allowed: no allowed_signers file to verify the signature with"
    if ! ssh-keygen -Y verify -f "$allowed" -I "$PRINCIPAL" -n "$NAMESPACE" \
      -s "$site/SHA256SUMS.sig" < "$site/SHA256SUMS"; then
      fail 1 "$site/SHA256SUMS.sig: not a valid signature of SHA256SUMS by a key that $allowed" \
        "lists for '$PRINCIPAL' (add the signing key's public half: docs/signing.md);" \
        "nothing is deployed"
    fi
  else
    echo "the index is unsigned: only its SHA256SUMS is checked"
  fi
  if ! (cd "$site" && sha256sum --quiet --strict -c SHA256SUMS); then
    fail 1 "$site: a file does not match the hash SHA256SUMS lists for it; nothing is deployed"
  fi
  echo "$site: every file matches SHA256SUMS"
}

# Writes the published status.json to $1; returns 1 when the site has none yet.
fetch_status() {
  local url=$1 out=$2 code
  code=$(curl -sS --max-time 60 --retry 3 -o "$out" -w '%{http_code}' "$url") || code=000
  case "$code" in
    200) return 0 ;;
    404)
      rm -f "$out"
      echo "::warning::no published status.json ($url: HTTP 404): the index has no health until" \
        "the next check"
      return 1
      ;;
    *)
      rm -f "$out"
      fail 4 "$url could not be fetched (HTTP $code); the published health would be lost: retry"
      ;;
  esac
}

build() {
  local out=$1 base_url=$2 status=$3 allowed=$4 work signed=no
  work="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/deploy-site.XXXXXX")"
  # shellcheck disable=SC2064 # the folder is known now and must go whatever happens later
  trap "rm -rf '$work'" EXIT
  local options=(--out "$out" --base-url "$base_url")
  if [ -n "$status" ]; then
    options+=(--status "$status")
  elif fetch_status "${base_url%/}/status.json" "$work/status.json"; then
    options+=(--status "$work/status.json")
  fi
  local key="${INDEX_SIGNING_KEY:-}"
  unset INDEX_SIGNING_KEY
  if [ -z "$key" ]; then
    echo "::warning::the INDEX_SIGNING_KEY secret is not set: the index is published unsigned"
    image-catalog index build "${options[@]}"
  else
    (umask 077 && printf '%s\n' "$key" > "$work/key")
    key=
    IMAGE_CATALOG_SIGNING_KEY_FILE="$work/key" image-catalog index build "${options[@]}"
    rm -f "$work/key"
    signed=yes
  fi
  # A subshell, so that a refusal can remove the site before the script exits with its code.
  local code=0
  (verify "$out" "$signed" "$allowed") || code=$?
  if [ "$code" -ne 0 ]; then
    rm -rf "$out"
    echo "::error::deploy-site: $out removed: it did not verify" >&2
    exit "$code"
  fi
}

main() {
  local mode=${1:-} out="" base_url="" status="" allowed=allowed_signers signed=no
  [ $# -gt 0 ] && shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --out | --base-url | --status | --allowed-signers)
        [ $# -ge 2 ] || usage "$1 needs a value"
        case "$1" in
          --out) out=$2 ;;
          --base-url) base_url=$2 ;;
          --status) status=$2 ;;
          --allowed-signers) allowed=$2 ;;
        esac
        shift 2
        ;;
      --signed) signed=yes && shift ;;
      *) usage "unknown argument '$1'" ;;
    esac
  done
  [ -n "$out" ] || usage "--out is required"
  case "$mode" in
    build)
      [ -n "$base_url" ] || usage "build needs --base-url"
      [ "$signed" = no ] || usage "--signed is for verify; build signs when INDEX_SIGNING_KEY is set"
      build "$out" "$base_url" "$status" "$allowed"
      ;;
    verify)
      [ -z "$base_url$status" ] || usage "verify takes no --base-url or --status"
      verify "$out" "$signed" "$allowed"
      ;;
    *) usage "the first argument is build or verify" ;;
  esac
}

main "$@"
