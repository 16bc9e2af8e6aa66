#!/usr/bin/env bash
# The monitoring stack on the test node (test/k8s), built here since kube-prometheus-stack's chart
# and images cannot be fetched: the parts of kube-prometheus-stack the Netflicks chart relies on,
# configured like its defaults for the selectors (monitors and rules by `release: <stack release>`).
#
#   test/monitoring/stack.sh up       build what is missing, import the images, install, wait until ready
#   test/monitoring/stack.sh down     delete the namespace and the stack's cluster-scoped objects
#   test/monitoring/stack.sh status   exit 0 when Prometheus answers, 3 when not; prints its URL
#   test/monitoring/stack.sh url      Prometheus' base URL (from the host)
#
# | piece               | from                                                                    |
# | Prometheus Operator | github.com/prometheus-operator/prometheus-operator (Go module proxy), operator + config reloader |
# | Prometheus          | github.com/prometheus/prometheus (Go module proxy), Kubernetes discovery only; |
# |                     | Debian's binary is built without kubernetes_sd_configs, which the operator's config needs |
# | kube-state-metrics  | test/helm/tools.sh ksm (Go module proxy), the chart's custom resource config |
# | node-exporter       | Debian's `prometheus-node-exporter` package binary                        |
# | CRDs                | test/helm/tools.sh crds (the operator's module, same version)             |
# Images: netflicks-monitoring-<piece>:<version>, each the locally made Debian base image
# (test/k8s/images.sh) plus one binary, built with buildah in images.sh's store (same lock), and
# imported into the node when the node lacks that image ID. Needs root, the node up, images.sh run.
#
# Environment:
#   MONITORING_NAMESPACE          default monitoring
#   MONITORING_RELEASE            default kube-prometheus-stack (the label monitors and rules need)
#   PROMETHEUS_OPERATOR_VERSION   default 0.85.0 (kube-prometheus-stack 77.6.0's; tools.sh's CRDs)
#   PROMETHEUS_VERSION            default 3.16.0 (module v0.316.0; the newest the proxy serves here)
#   MONITORING_READY_TIMEOUT      seconds `up` waits for the pods, default 240
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
NS=${MONITORING_NAMESPACE:-monitoring}
RELEASE=${MONITORING_RELEASE:-kube-prometheus-stack}
OPERATOR_VERSION=${PROMETHEUS_OPERATOR_VERSION:-0.85.0}
READY_TIMEOUT=${MONITORING_READY_TIMEOUT:-240}
CACHE_ROOT=${NETFLICKS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netflicks}
PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-3.16.0}
OPERATOR_DIR=$CACHE_ROOT/prometheus-operator/$OPERATOR_VERSION
PROMETHEUS_DIR=$CACHE_ROOT/prometheus/$PROMETHEUS_VERSION
STORE=$CACHE_ROOT/images
IMAGE_PREFIX=docker.io/library/netflicks-monitoring
CLUSTER_ROLES=(nf-mon-prometheus-operator nf-mon-prometheus nf-mon-kube-state-metrics)
export KUBECONFIG=${KUBECONFIG:-${NETFLICKS_K8S_DIR:-${TMPDIR:-/tmp}/netflicks-k8s}/kubeconfig}
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=${GOTOOLCHAIN:-local}

log() { echo "stack.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=test/k8s/lib.sh
. "$ROOT/test/k8s/lib.sh"
timed() { # timed WHAT CMD...: runs CMD, logs how long it took
  local what=$1 t0=$SECONDS
  shift
  "$@"
  log "$what: $((SECONDS - t0))s"
}

deb_version() { dpkg-query -W -f '${Version}' "$1" | sed 's/+.*//; s/-.*//'; }
bah() { buildah --root "$STORE/storage" --runroot "$STORE/run" --storage-driver overlay "$@"; }
tool_path() { "$ROOT/test/helm/tools.sh" paths | sed -n "s/^$1=//p"; }

# go_build DIR VERSION TAGS PACKAGE@MODULE_VERSION...: main packages from the module proxy into
# DIR/bin, in a scratch module DIR/src (like tools.sh's ksm: a module's replace lines only apply
# when it is the main module). Skipped when DIR/bin/.version is VERSION.
go_build() {
  local dir=$1 version=$2 tags=$3 bin=$1/bin src=$1/src p pkgs=()
  shift 3
  if [[ $(cat "$bin/.version" 2>/dev/null) == "$version" ]]; then
    log "${dir#"$CACHE_ROOT/"}: cached"
    return 0
  fi
  command -v go >/dev/null || die "go not found (needed to build from the Go module proxy)"
  log "${dir#"$CACHE_ROOT/"}: building (several minutes cold on 2 cores)"
  for p in "$@"; do pkgs+=("${p%@*}"); done
  rm -rf "$src" "$bin"
  mkdir -p "$src" "$bin"
  if ! (cd "$src" && go mod init "netflicks.local/$(basename "$(dirname "$dir")")" && go get -tool "$@" \
    && go build -trimpath -tags "$tags" -ldflags "-s -w -X github.com/prometheus/common/version.Version=$version" \
      -o "$bin/" "${pkgs[@]}") >"$src/build.log" 2>&1; then
    tail -n 30 "$src/build.log" >&2
    die "building ${pkgs[*]} failed (log: $src/build.log)"
  fi
  echo "$version" >"$bin/.version"
}

build_binaries() {
  local op=github.com/prometheus-operator/prometheus-operator major minor patch
  IFS=. read -r major minor patch <<<"$PROMETHEUS_VERSION"
  go_build "$OPERATOR_DIR" "$OPERATOR_VERSION" "" "$op/cmd/operator@v$OPERATOR_VERSION" "$op/cmd/prometheus-config-reloader@v$OPERATOR_VERSION"
  # Prometheus 3.x.y is module version v0.(300+x).y; only the Kubernetes service discovery.
  go_build "$PROMETHEUS_DIR" "$PROMETHEUS_VERSION" remove_all_sd,enable_kubernetes_sd \
    "github.com/prometheus/prometheus/cmd/prometheus@v0.$((major * 100 + minor)).$patch"
}

# name version binary path: netflicks-monitoring-<name>:<version>, the base image plus the binary
# at the upstream image's path (the Prometheus Operator runs /bin/prometheus-config-reloader by
# path), which is also the entrypoint.
IMAGES=()
build_image() {
  local binary=$3 path=$4 ref=$IMAGE_PREFIX-$1:$2 ctr mnt
  IMAGES+=("$ref")
  if bah inspect --type image "$ref" >/dev/null 2>&1; then return 0; fi
  ctr=$(bah from --pull=never "$BASE_IMAGE")
  mnt=$(bah mount "$ctr")
  install -D -m 0755 "$binary" "$mnt$path"
  bah umount "$ctr" >/dev/null
  bah config --entrypoint "[\"$path\"]" --cmd '' --user 65534:65534 "$ctr"
  bah commit --rm -q --format docker "$ctr" "$ref" >/dev/null
  log "${ref#docker.io/library/}: built"
}

build_images() {
  local node_version ksm
  node_version=$(sed -n 's/^ARG NODE_VERSION=//p' "$ROOT/Dockerfile" | head -n1)
  BASE_IMAGE=docker.io/library/node:$node_version-bookworm-slim
  bah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1 || die "no base image $BASE_IMAGE (run test/k8s/images.sh build first)"
  ksm=$(tool_path KUBE_STATE_METRICS)
  NODE_EXPORTER_VERSION=$(deb_version prometheus-node-exporter)
  [[ -x $ksm ]] || die "no kube-state-metrics at $ksm (test/helm/tools.sh ksm)"
  KSM_VERSION=$(basename "$(dirname "$(dirname "$ksm")")") # tools.sh: kube-state-metrics/<version>/bin
  build_image operator "$OPERATOR_VERSION" "$OPERATOR_DIR/bin/operator" /bin/operator
  build_image config-reloader "$OPERATOR_VERSION" "$OPERATOR_DIR/bin/prometheus-config-reloader" /bin/prometheus-config-reloader
  build_image prometheus "$PROMETHEUS_VERSION" "$PROMETHEUS_DIR/bin/prometheus" /bin/prometheus
  build_image node-exporter "$NODE_EXPORTER_VERSION" /usr/bin/prometheus-node-exporter /bin/node_exporter
  build_image kube-state-metrics "$KSM_VERSION" "$ksm" /kube-state-metrics
}

# images.sh's import: an image whose ID the node already has under that name is skipped.
import_images() { "$ROOT/test/k8s/images.sh" import "${IMAGES[@]#docker.io/library/}"; }

with_store_lock() {
  mkdir -p "$STORE"
  exec 8>"$STORE/.lock"
  flock 8
  "$@"
  exec 8>&-
}

# kube-state-metrics' custom resource state config, taken from the chart's values.yaml.
crs_config() {
  (cd "$ROOT" && node --input-type=module -e '
    import { readFileSync } from "node:fs";
    import { parse, stringify } from "yaml";
    const v = parse(readFileSync("charts/netflicks/values.yaml", "utf8"));
    process.stdout.write(stringify(v["kube-prometheus-stack"]["kube-state-metrics"].customResourceState.config));')
}

manifests() {
  sed -e "s|@NS@|$NS|g" -e "s|@RELEASE@|$RELEASE|g" -e "s|@IMAGE_PREFIX@|$IMAGE_PREFIX|g" \
    -e "s|@OPERATOR_VERSION@|$OPERATOR_VERSION|g" -e "s|@PROMETHEUS_VERSION@|$PROMETHEUS_VERSION|g" \
    -e "s|@KSM_VERSION@|$KSM_VERSION|g" -e "s|@NODE_EXPORTER_VERSION@|$NODE_EXPORTER_VERSION|g" "$SCRIPT_DIR/stack.yaml"
}

install_stack() {
  local crds
  crds=$(tool_path PROMETHEUS_OPERATOR_CRDS)
  kubectl apply --server-side --force-conflicts -f "$crds" >/dev/null
  kubectl wait --for=condition=Established --timeout=60s -f "$crds" >/dev/null
  kubectl apply --server-side --force-conflicts -f - >/dev/null < <(manifests)
  kubectl -n "$NS" create configmap kube-state-metrics-customresourcestate --from-file=config.yaml=<(crs_config) \
    --dry-run=client -o yaml | kubectl apply --server-side --force-conflicts -f - >/dev/null
}

prometheus_url() {
  local ip
  ip=$(kubectl -n "$NS" get service "$RELEASE-prometheus" -o jsonpath='{.spec.clusterIP}' 2>/dev/null) || return 1
  [[ -n $ip ]] && echo "http://$ip:9090"
}

prometheus_ready() {
  local url
  url=$(prometheus_url) && curl -fsS --max-time 3 "$url/-/ready" >/dev/null 2>&1
}

wait_ready() {
  local t0=$SECONDS
  kubectl -n "$NS" rollout status deployment/prometheus-operator deployment/kube-state-metrics --timeout="${READY_TIMEOUT}s" >/dev/null
  kubectl -n "$NS" rollout status daemonset/node-exporter --timeout="${READY_TIMEOUT}s" >/dev/null
  until prometheus_ready; do
    if ((SECONDS - t0 >= READY_TIMEOUT)); then
      kubectl -n "$NS" get pods -o wide >&2 || true
      kubectl -n "$NS" logs deployment/prometheus-operator --tail=20 >&2 || true
      die "Prometheus not ready after ${READY_TIMEOUT}s"
    fi
    sleep 1
  done
}

cmd_up() {
  local t0=$SECONDS
  ((EUID == 0)) || die "needs root (buildah's storage, the node's containerd)"
  "$ROOT/test/k8s/node.sh" status >/dev/null || die "the test node is not up (npm run cluster:up)"
  install_debian_packages buildah prometheus-node-exporter
  timed "test tools (CRDs, kube-state-metrics)" "$ROOT/test/helm/tools.sh" crds
  "$ROOT/test/helm/tools.sh" ksm
  timed "Go builds (Prometheus Operator, Prometheus)" build_binaries
  timed "images" with_store_lock build_images
  timed "import" import_images
  timed "install" install_stack
  timed "ready" wait_ready
  log "up in $((SECONDS - t0))s: Prometheus at $(prometheus_url) (namespace $NS, release label $RELEASE)"
}

cmd_down() {
  local t0=$SECONDS
  kubectl delete namespace "$NS" --ignore-not-found --wait=true --timeout=120s >/dev/null
  kubectl delete clusterrolebinding,clusterrole "${CLUSTER_ROLES[@]}" --ignore-not-found >/dev/null
  log "down in $((SECONDS - t0))s (the monitoring.coreos.com CRDs stay: other tests share them)"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) if prometheus_ready; then prometheus_url; else exit 3; fi ;;
  url) prometheus_url ;;
  *) echo "usage: $0 up|down|status|url" >&2; exit 2 ;;
esac
