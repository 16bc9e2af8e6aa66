#!/usr/bin/env bash
# schemathesis (PyPI, pinned) against a running recommend API: a bounded run with every check,
# from the OpenAPI document the server publishes. Installed into a venv under the cache root, like
# test/helm/tools.sh does for hadolint. Idempotent: a warm install takes well under a second.
#
#   scripts/schemathesis.sh install            install (or check) the pinned version
#   scripts/schemathesis.sh path               print the executable's path (nothing is fetched)
#   scripts/schemathesis.sh run URL [ARGS…]    test the API at URL (its base, e.g. http://127.0.0.1:8082);
#                                              ARGS go to `schemathesis run` (e.g. -H 'Authorization: Bearer …')
#
# Environment:
#   SCHEMATHESIS_VERSION       default 4.32.5
#   SCHEMATHESIS_MAX_EXAMPLES  test cases per operation and phase, default 40 (the bound of the run)
#   SCHEMATHESIS_SEED          default 1 (reproducible runs; change it to explore)
#   NETFLICKS_CACHE            cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/netflicks)
# Layout: schemathesis/<version>/venv/bin/schemathesis
set -euo pipefail

VERSION=${SCHEMATHESIS_VERSION:-4.32.5}
CACHE_ROOT=${NETFLICKS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netflicks}
DIR=$CACHE_ROOT/schemathesis/$VERSION
BIN=$DIR/venv/bin/schemathesis
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONFIG=$SCRIPT_DIR/schemathesis.toml
# shellcheck source=test/lib/pypi-tool.sh
source "$SCRIPT_DIR/../test/lib/pypi-tool.sh"

log() { echo "schemathesis.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

installed() { [[ -x $BIN ]] && "$BIN" --version 2>/dev/null | grep -qF "version $VERSION"; }

install() { pypi_tool schemathesis "$VERSION" schemathesis "$DIR" installed; }

run() {
  local url=${1:?usage: schemathesis.sh run URL [ARGS…]}
  shift
  installed || die "schemathesis $VERSION is not installed: run scripts/schemathesis.sh install"
  # Reports and the hypothesis example database stay in a scratch folder, not in the checkout.
  local scratch
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' RETURN
  (cd "$scratch" && "$BIN" --no-color --config-file "$CONFIG" run "${url%/}/openapi.json" \
    --checks all --workers 1 --seed "${SCHEMATHESIS_SEED:-1}" \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-40}" --request-timeout 10 "$@")
}

case "${1:-}" in
  install) install ;;
  path) echo "$BIN" ;;
  run) shift; run "$@" ;;
  *) die "usage: $0 install | path | run URL [ARGS…]" ;;
esac
