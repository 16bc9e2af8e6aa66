#!/usr/bin/env bash
# skaffold against the project's own node (test/k8s, `npm run cluster:up`), without a Docker
# daemon or a registry: skaffold.yaml's profile `local` builds each image with
# `test/k8s/images.sh one` (buildah) and imports it into the node's containerd.
#
#   test/skaffold/skaffold.sh run -p local [-n NAMESPACE]      build, import, deploy the chart
#   test/skaffold/skaffold.sh dev -p local [-n NAMESPACE]      the same, again on every source change
#   test/skaffold/skaffold.sh delete -p local [-n NAMESPACE]   uninstall the release, delete its data
#   test/skaffold/skaffold.sh <any skaffold command and flags>
#
# What it sets up around skaffold, for the duration of the call only:
# - skaffold, helm and kubectl from test/k8s/build.sh (skaffold is built on first use, ~15 min);
# - KUBECONFIG: the test cluster's, unless already set;
# - a Docker Engine API on a private socket, served by `podman system service` from buildah's
#   storage (the one images.sh builds into). Skaffold's local builder asks a Docker API for the
#   image it has just had built (its ID names what it deploys) even when nothing is pushed;
#   nothing is built or run through it;
# - a skaffold global config (SKAFFOLD_CONFIG) that marks the current context a local cluster
#   (images stay local, nothing is pushed or loaded) and turns off update checks, surveys and
#   metrics;
# - the namespace of the release (-n, or the profile's nf-skaffold) and its name in
#   NETFLICKS_NAMESPACE / NETFLICKS_RELEASE, for the profile's before-deploy hook
#   (`test/k8s/install.sh volumes`: the node has no volume provisioner, the bundled PostgreSQL and
#   Kafka need volumes); after `delete -p local`, `install.sh volumes --delete` removes their
#   claims, volumes and data (skaffold's own delete keeps claims, as helm uninstall does), then
#   the namespace when nothing else is left in it;
# - the chart as skaffold deploys it (.cache/skaffold/netflicks, ignored by git): a copy of
#   charts/netflicks whose kube-prometheus-stack dependency, which cannot be fetched here, is an
#   empty stand-in; the profile `local` never enables it. Chart edits reach a running `dev` on its
#   next start.
# Needs root (buildah's storage, the node's containerd). Everything it starts stops on exit.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE_ROOT=${NETFLICKS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netflicks}
STORE=$CACHE_ROOT/images
API_TIMEOUT=${SKAFFOLD_DOCKER_API_TIMEOUT:-30}

log() { echo "skaffold.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

((EUID == 0)) || die "needs root (buildah's storage, the node's containerd)"
"$ROOT/test/k8s/build.sh" skaffold
eval "$("$ROOT/test/k8s/build.sh" paths)"
export PATH="$SKAFFOLD_BIN:$HELM_BIN:$K8S_BIN:$PATH"
export KUBECONFIG=${KUBECONFIG:-${NETFLICKS_K8S_DIR:-${TMPDIR:-/tmp}/netflicks-k8s}/kubeconfig}
# Commands that read skaffold.yaml and the chart but never a cluster run without one (CI's cheap checks).
case ${1:-} in
  diagnose | render | fix | inspect | schema | version) needs_cluster=false ;;
  *) needs_cluster=true ;;
esac
if ! context=$(kubectl config current-context 2>/dev/null); then
  $needs_cluster && die "no current context in $KUBECONFIG (npm run cluster:up)"
  context=''
fi

if ! command -v podman >/dev/null; then
  # shellcheck source=test/k8s/lib.sh
  . "$ROOT/test/k8s/lib.sh"
  install_debian_packages podman
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/netflicks-skaffold.XXXXXX")
podman_pid=''
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  if [[ -n $podman_pid ]]; then
    kill "$podman_pid" 2>/dev/null || true
    wait "$podman_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
# Ctrl-C reaches skaffold too (same process group): it cleans up and exits, and its status is ours.
trap ':' INT
trap 'exit 143' TERM

mkdir -p "$STORE/storage" "$STORE/run"
# Its own session: a Ctrl-C to skaffold's process group must leave the API up while skaffold cleans up.
setsid podman --root "$STORE/storage" --runroot "$STORE/run" --storage-driver overlay --events-backend file \
  system service --time 0 "unix://$work/docker.sock" >"$work/podman.log" 2>&1 &
podman_pid=$!
# Stops the API and removes the work dir if this script is killed outright (no EXIT trap then).
# shellcheck disable=SC2016 # expanded by that bash, from its arguments
setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 2; done; kill "$2" 2>/dev/null; sleep 1; rm -rf "$3"' \
  _ $$ "$podman_pid" "$work" </dev/null >/dev/null 2>&1 &
for ((i = 0; i < API_TIMEOUT * 5; i++)); do
  [[ -S $work/docker.sock ]] && curl -fsS --unix-socket "$work/docker.sock" http://d/_ping >/dev/null 2>&1 && break
  kill -0 "$podman_pid" 2>/dev/null || { cat "$work/podman.log" >&2; die "podman system service exited"; }
  sleep 0.2
done
((i < API_TIMEOUT * 5)) || { cat "$work/podman.log" >&2; die "no Docker API from podman after ${API_TIMEOUT}s"; }
export DOCKER_HOST=unix://$work/docker.sock
log "Docker API for skaffold: $DOCKER_HOST (podman pid $podman_pid, stopped on exit)"

cat >"$work/skaffold-config.yaml" <<CONFIG
global:
  update-check: false
  collect-metrics: false
  survey: {disable-prompt: true}
CONFIG
[[ -z $context ]] || printf 'kubeContexts:\n  - kube-context: %s\n    local-cluster: true\n' "$context" >>"$work/skaffold-config.yaml"
export SKAFFOLD_CONFIG=$work/skaffold-config.yaml SKAFFOLD_UPDATE_CHECK=false SKAFFOLD_INTERACTIVE=false

# The chart with an empty stand-in for each dependency (name and version from Chart.yaml), at the
# fixed path the profiles name (skaffold dev lists the chart's files from it, untemplated). Made
# again when charts/netflicks changed; wrappers in one checkout take turns.
stage_chart() {
  local dir=$ROOT/.cache/skaffold stamp name version
  mkdir -p "$dir"
  exec 7>"$dir/.lock"
  flock 7
  stamp=$(cd "$ROOT/charts/netflicks" && find -L . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)
  if [[ ! -f $dir/netflicks.stamp || $(<"$dir/netflicks.stamp") != "$stamp" ]]; then
    rm -rf "$dir/netflicks" "$dir/netflicks.stamp"
    cp -rL "$ROOT/charts/netflicks" "$dir/netflicks"
    rm -rf "$dir/netflicks/charts" "$dir/netflicks/Chart.lock"
    while read -r name version; do
      mkdir -p "$dir/netflicks/charts/$name"
      printf 'apiVersion: v2\nname: %s\nversion: %s\ndescription: stand-in (test/skaffold/skaffold.sh), never enabled by the local profile\n' \
        "$name" "$version" >"$dir/netflicks/charts/$name/Chart.yaml"
    done < <(awk '/^dependencies:/ {d=1; next} d && /^[^ #-]/ {d=0} d && $1 == "-" && $2 == "name:" {n=$3} d && $1 == "version:" {print n, $2}' \
      "$dir/netflicks/Chart.yaml")
    echo "$stamp" >"$dir/netflicks.stamp"
  fi
  exec 7>&-
}
stage_chart

# The namespace and profiles the arguments name (skaffold's flag forms), and its command.
namespace=nf-skaffold profiles='' command=${1:-}
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    -n | --namespace) namespace=${args[i + 1]:-} ;;
    --namespace=*) namespace=${args[i]#--namespace=} ;;
    -n?*) namespace=${args[i]#-n} ;;
    -p | --profile) profiles+=",${args[i + 1]:-}" ;;
    --profile=*) profiles+=",${args[i]#--profile=}" ;;
    -p?*) profiles+=",${args[i]#-p}" ;;
  esac
done
export NETFLICKS_NAMESPACE=$namespace NETFLICKS_RELEASE=netflicks

cd "$ROOT"
# Not exec: the trap must stop podman and remove the copies when skaffold ends.
status=0
skaffold "$@" || status=$?
if ((status == 0)) && [[ $command == delete && ,$profiles, == *,local,* ]]; then
  "$ROOT/test/k8s/install.sh" volumes --delete || status=$?
  # The namespace skaffold created, unless data is left in it (e.g. a database Secret); what the
  # release ran goes with it.
  left=$(kubectl -n "$namespace" get secrets,configmaps,persistentvolumeclaims -o name 2>/dev/null \
    | grep -vx 'configmap/kube-root-ca.crt' || true)
  if ((status == 0)) && [[ -z $left && $namespace != default && $namespace != kube-* ]] && kubectl get namespace "$namespace" >/dev/null 2>&1; then
    kubectl delete namespace "$namespace" --wait=false >/dev/null && log "deleted namespace $namespace (nothing else in it)"
  fi
fi
exit "$status"
