#!/bin/sh
# Starts the netflicks CLI (netflicks.js beside this file) with the process settings that only a
# process's start can set, per command: V8's heap flags (node's command line; NODE_OPTIONS is an
# environment variable the serving Deployment's policy refuses) and glibc's malloc arenas (read
# at the first allocation). `exec`: node replaces this shell (same PID; signals reach it directly).
# NETFLICKS_NODE: the node binary (default: the one on PATH).
here=$(dirname "$0")
node=${NETFLICKS_NODE:-node}
case "$1" in
  serve)
    # A serving process holds a model of up to a few hundred MB and answers small requests: new
    # space of 4 MB semi-spaces instead of up to 16 MB (less of each request's garbage is promoted
    # and left for a full collection), and two malloc arenas (not 8 per core) for the load
    # worker's and the serving thread's buffers. Measured on the 20M-sized model
    # (docs/benchmarks.md, issue 19, h-mem): RSS −35 to −110 MB, CPU per request unchanged side
    # by side. A fixed mmap threshold of 128 KiB: glibc otherwise raises it (up to 32 MiB) each
    # time a large buffer is freed — the load worker frees many — and from then on places the
    # model's buffers inside its heap, where the holes freed buffers leave stay resident (−20 MB
    # on the 20M-sized model, docs/benchmarks.md, issue 19, h-rss).
    MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
    MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-131072}
    export MALLOC_ARENA_MAX MALLOC_MMAP_THRESHOLD_
    exec "$node" --max-semi-space-size=4 "$here/netflicks.js" "$@"
    ;;
  *)
    exec "$node" "$here/netflicks.js" "$@"
    ;;
esac
