#!/usr/bin/env bash
# Load generators for the recommend-API benchmark, installed from registries (idempotent):
#   * wrk (C, epoll; Debian's package) measures maximum throughput: it needs far less CPU per
#     request than the server it drives, so on a 2-core machine the server, not the client, is
#     what saturates (autocannon, in Node, cost about as much as a bare Koa route per request);
#   * vegeta (Go, built with `go install` from the module proxy, pinned) measures latency at a
#     fixed rate: an open model (requests are sent on schedule whether or not earlier ones
#     answered), so a stall shows up in the percentiles instead of slowing the client down.
#   * Fastify 5 (npm, into the cache, not the workspace: only the reference server uses it).
#   * nf-load (services/recommend-api/bench/nf-load.c, the project's own closed-loop client,
#     cheaper per request than wrk) compiled with the system's cc into the cache, under a name
#     keyed by its source's hash (an edit builds a new binary).
# Prints the three binaries' paths and Fastify's folder, one per line (wrk, vegeta, fastify, nf-load).
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

NF_LOAD_SRC="$(dirname "$0")/../services/recommend-api/bench/nf-load.c"
NF_LOAD="$BIN/nf-load-$(sha256sum "$NF_LOAD_SRC" | cut -c1-16)"
if [[ ! -x "$NF_LOAD" ]]; then
  command -v cc >/dev/null 2>&1 || { echo "nf-load needs a C compiler (cc)" >&2; exit 1; }
  echo "compiling nf-load (cc)" >&2
  mkdir -p "$BIN"
  cc -O2 -std=c11 -Wall -Wextra -pthread -o "$NF_LOAD.$$" "$NF_LOAD_SRC" >&2
  mv "$NF_LOAD.$$" "$NF_LOAD"
fi

command -v wrk
echo "$VEGETA"
echo "$FASTIFY"
echo "$NF_LOAD"
