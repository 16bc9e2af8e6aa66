#!/usr/bin/env bash
# Load generators for the recommend-API benchmark, installed from registries (idempotent):
#   * wrk (C, epoll; Debian's package) measures maximum throughput: it needs far less CPU per
#     request than the server it drives, so on a 2-core machine the server, not the client, is
#     what saturates (autocannon, in Node, cost about as much as a bare Koa route per request);
#   * vegeta (Go, built with `go install` from the module proxy, pinned) measures latency at a
#     fixed rate: an open model (requests are sent on schedule whether or not earlier ones
#     answered), so a stall shows up in the percentiles instead of slowing the client down.
#   * Fastify 5 (npm, into the cache, not the workspace: only the reference server uses it).
# Prints the two binaries' paths and Fastify's folder, one per line (wrk, vegeta, fastify).
set -euo pipefail

VEGETA_VERSION=v12.12.0
BIN="${XDG_CACHE_HOME:-$HOME/.cache}/netflicks/bin"

if ! command -v wrk >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing wrk (apt)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2 || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2; }
  else
    echo "wrk is missing: install Debian's wrk package (or wrk from source) and re-run" >&2
    exit 1
  fi
fi

VEGETA="$BIN/vegeta-$VEGETA_VERSION"
if [[ ! -x "$VEGETA" ]]; then
  command -v go >/dev/null 2>&1 || { echo "vegeta needs the Go toolchain (go install github.com/tsenart/vegeta/v12@$VEGETA_VERSION)" >&2; exit 1; }
  echo "building vegeta $VEGETA_VERSION (go install)" >&2
  mkdir -p "$BIN"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOBIN="$tmp" go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION" >&2
  mv "$tmp/vegeta" "$VEGETA"
fi

FASTIFY_VERSION=5.6.1
FASTIFY="$BIN/fastify-$FASTIFY_VERSION"
if [[ ! -f "$FASTIFY/node_modules/fastify/package.json" ]]; then
  echo "installing fastify $FASTIFY_VERSION (npm, for the reference server)" >&2
  mkdir -p "$FASTIFY"
  npm install --prefix "$FASTIFY" --no-audit --no-fund --no-save --silent "fastify@$FASTIFY_VERSION" >&2
fi

command -v wrk
echo "$VEGETA"
echo "$FASTIFY"
