#!/usr/bin/env bash
# Builds dashboard-schema (main.go beside this script) against Grafana's published dashboard schema
# (github.com/grafana/grafana-foundation-sdk/go, Apache-2.0, from the Go module proxy) in a scratch
# module under the cache; prints the binary's path. Cached: rebuilt only when main.go or the SDK
# version changes (~1 min cold, <1 s warm).
#
# Environment: GRAFANA_SDK_VERSION (default v0.0.22), NETFLICKS_CACHE.
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SDK_VERSION=${GRAFANA_SDK_VERSION:-v0.0.22}
CACHE_ROOT=${NETFLICKS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netflicks}
DIR=$CACHE_ROOT/dashboard-schema/$SDK_VERSION
BIN=$DIR/bin/dashboard-schema
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=${GOTOOLCHAIN:-local}

mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9
stamp=$(sha256sum "$SCRIPT_DIR/main.go" | cut -d' ' -f1)
if [[ -x $BIN && $(cat "$DIR/bin/.stamp" 2>/dev/null) == "$stamp" ]]; then
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || { echo "build.sh: go not found (the schema comes from the Go module proxy)" >&2; exit 1; }
rm -rf "${DIR:?}/src" "${DIR:?}/bin"
mkdir -p "$DIR/src" "$DIR/bin"
cp "$SCRIPT_DIR/main.go" "$DIR/src/"
if ! (cd "$DIR/src" && go mod init netflicks.local/dashboard-schema && go get "github.com/grafana/grafana-foundation-sdk/go@$SDK_VERSION" \
  && go build -trimpath -ldflags "-s -w" -o "$BIN" .) >"$DIR/build.log" 2>&1; then
  tail -n 30 "$DIR/build.log" >&2
  echo "build.sh: building dashboard-schema failed (log: $DIR/build.log)" >&2
  exit 1
fi
echo "$stamp" >"$DIR/bin/.stamp"
echo "$BIN"
