# shellcheck shell=bash
# Shared by the scripts/fetch-*.sh data scripts (sourced): an idempotent, atomic dataset folder in
# ${XDG_CACHE_HOME:-~/.cache}/netflicks/datasets/NAME, built in a temporary sibling and moved into
# place only when complete, with a marker file naming its source.

# bench_dataset_begin NAME FILE...: exits 0 when NAME already holds FILE... and its marker;
# otherwise sets DEST, PYTHON, WORK (a scratch folder removed on exit) and TMP_DEST.
bench_dataset_begin() {
  local name="$1"
  shift
  CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/netflicks/datasets"
  DEST="$CACHE_ROOT/$name"
  MARKER="$DEST/.netflicks-bench-source"
  local complete=1 f
  for f in "$@"; do [[ -f "$DEST/$f" ]] || complete=0; done
  if [[ -f "$MARKER" && "$complete" -eq 1 ]]; then
    echo "$name already present in $DEST ($(cat "$MARKER"))"
    exit 0
  fi
  PYTHON="${PYTHON:-python3}"
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
  mkdir -p "$CACHE_ROOT"
  TMP_DEST="$(mktemp -d "$CACHE_ROOT/.$name.XXXXXX")"
}

# bench_dataset_finish SOURCE: records SOURCE in the marker and moves the folder into place.
bench_dataset_finish() {
  echo "$1, rebuilt $(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$TMP_DEST/.netflicks-bench-source"
  rm -rf "$DEST"
  mv "$TMP_DEST" "$DEST"
}
