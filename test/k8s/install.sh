#!/usr/bin/env bash
# Installs the Helm chart on the project's node (`npm run cluster:up`, `npm run images:build`) as
# a development platform: the operator (2 replicas, leader election), ingest, the online
# evaluator, the simulator, the bundled PostgreSQL and Kafka and the `movies` RecommenderModel,
# with the images images.sh built (charts/netflicks/ci/local-node-values.yaml).
#
#   test/k8s/install.sh install [HELM_ARGS...]     helm upgrade --install, waits until ready and seeded
#   test/k8s/install.sh uninstall [--purge]        helm uninstall; --purge also deletes the data
#   test/k8s/install.sh volumes [--delete]         only the volumes below (for installs made otherwise,
#                                                  e.g. skaffold); --delete: their claims, the
#                                                  PostgreSQL password Secret, the volumes, their data
#
# Environment: NETFLICKS_NAMESPACE (default netflicks), NETFLICKS_RELEASE (default netflicks),
# NETFLICKS_INSTALL_TIMEOUT (helm's --timeout, default 10m). HELM_ARGS go to helm as they are
# (e.g. --set simulator.rate=50, --values my.yaml).
#
# The node has no volume provisioner, so the StatefulSets' claims are bound to local
# PersistentVolumes made here: <namespace>-<claim>, a directory under the node's state directory.
# `uninstall` keeps the claims, their volumes and the PostgreSQL password Secret (as a cluster
# with a provisioner would: a reinstall finds the data); `uninstall --purge` deletes them, the
# directories and the namespace.
#
# The chart's kube-prometheus-stack dependency cannot be fetched here and is off in these values:
# unless `helm dependency build` has put it in charts/netflicks/charts/, the chart is installed
# from a staged copy without the dependency.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CHART=$ROOT/charts/netflicks
VALUES=$CHART/ci/local-node-values.yaml
NS=${NETFLICKS_NAMESPACE:-netflicks}
RELEASE=${NETFLICKS_RELEASE:-netflicks}
TIMEOUT=${NETFLICKS_INSTALL_TIMEOUT:-10m}
NODE_DIR=${NETFLICKS_NODE_DIR:-${TMPDIR:-/tmp}/netflicks-node}
VOLUMES=$NODE_DIR/volumes/$NS
NODE_NAME=netflicks-node
VOLUME_LABEL=netflicks.dev/local-volume-of

log() { echo "install.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

eval "$("$SCRIPT_DIR/cluster.sh" env)"

# The chart's fullname (templates/_helpers.tpl): the release, or <release>-netflicks.
fullname() {
  local n=$RELEASE
  [[ $n == *netflicks* ]] || n=$RELEASE-netflicks
  n=${n:0:50}
  echo "${n%-}"
}

claims() { local f; f=$(fullname); echo "data-$f-postgres-0" "data-$f-kafka-0"; }

require_node() {
  kubectl get node "$NODE_NAME" >/dev/null 2>&1 \
    || die "no node $NODE_NAME: start it with \`sudo npm run cluster:up\`"
  local have img
  have=$("$SCRIPT_DIR/node.sh" images)
  while read -r img; do
    grep -qx "docker.io/library/$img" <<<"$have" || die "the node has no image $img: run \`sudo npm run images:build\`"
  done < <("$SCRIPT_DIR/images.sh" list | grep -v '^netflicks:latest$')
}

# A copy of the chart with crds/ dereferenced and, unless it was fetched, no kube-prometheus-stack.
stage_chart() {
  local dir=$1
  cp -rL "$CHART" "$dir/netflicks"
  if ! compgen -G "$CHART/charts/kube-prometheus-stack*" >/dev/null; then
    node --input-type=module -e '
      import { readFileSync, writeFileSync } from "node:fs";
      import { createRequire } from "node:module";
      const YAML = createRequire(process.argv[2] + "/")("yaml");
      const file = process.argv[1] + "/Chart.yaml";
      const doc = YAML.parseDocument(readFileSync(file, "utf8"));
      doc.delete("dependencies");
      writeFileSync(file, doc.toString());' "$dir/netflicks" "$ROOT"
  fi
}

# One local PersistentVolume per claim, pre-bound to it (claimRef), on a directory of the node.
ensure_volumes() {
  local claim pv path
  for claim in $(claims); do
    pv=$NS-$claim
    path=$VOLUMES/$claim
    mkdir -p "$path"
    kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $pv
  labels: {$VOLUME_LABEL: $NS}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef: {namespace: $NS, name: $claim}
  local: {path: $path}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - {key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME]}
EOF
  done
}

# Every Deployment and StatefulSet of the release rolled out (the simulator too: one
# long-running process). helm itself has already waited for the install's seed Job (a hook).
wait_ready() {
  local w
  for w in $(kubectl -n "$NS" get deployments,statefulsets -o name -l "app.kubernetes.io/instance=$RELEASE"); do
    kubectl -n "$NS" rollout status "$w" --timeout "$TIMEOUT" >/dev/null || die "$w did not become ready within $TIMEOUT"
  done
}

cmd_install() {
  local t0=$SECONDS
  ((EUID == 0)) || die "needs root (the volumes' directories in the node's state directory)"
  require_node
  STAGE=$(mktemp -d)
  trap 'rm -rf "$STAGE"' EXIT
  stage_chart "$STAGE"
  kubectl get namespace "$NS" >/dev/null 2>&1 || kubectl create namespace "$NS" >/dev/null
  ensure_volumes
  log "helm upgrade --install $RELEASE in namespace $NS (then waits for every workload; timeout $TIMEOUT)"
  helm upgrade --install "$RELEASE" "$STAGE/netflicks" --namespace "$NS" --values "$VALUES" --timeout "$TIMEOUT" "$@"
  wait_ready
  log "installed in $((SECONDS - t0))s. Next:"
  cat >&2 <<EOF
  kubectl -n $NS get trainingruns -w        # movies-install: Pending -> Running -> ... -> Promoted
  kubectl -n $NS get recommendermodels      # live version and ready replicas
  curl "http://\$(kubectl -n $NS get svc movies-api -o jsonpath='{.spec.clusterIP}')/recommend/42?k=5"
EOF
}

cmd_uninstall() {
  local purge=false
  [[ ${1:-} == --purge ]] && purge=true
  if helm status "$RELEASE" --namespace "$NS" >/dev/null 2>&1; then
    helm uninstall "$RELEASE" --namespace "$NS" --wait --timeout "$TIMEOUT"
  else
    log "no release $RELEASE in namespace $NS"
  fi
  if ! $purge; then
    log "kept (the data of a reinstall): PersistentVolumeClaims $(claims), Secret $(fullname)-postgres; \`--purge\` deletes them"
    return 0
  fi
  delete_data
  kubectl delete namespace "$NS" --ignore-not-found --timeout=120s >/dev/null
  log "purged: namespace $NS, its volumes and their data"
}

# The claims, the password Secret, the volumes and their directories (the release is gone).
delete_data() {
  local claim
  if kubectl get namespace "$NS" >/dev/null 2>&1; then
    for claim in $(claims); do kubectl -n "$NS" delete pvc "$claim" --ignore-not-found --timeout=120s >/dev/null; done
    kubectl -n "$NS" delete secret "$(fullname)-postgres" --ignore-not-found >/dev/null
  fi
  kubectl delete pv -l "$VOLUME_LABEL=$NS" --ignore-not-found --timeout=120s >/dev/null
  rm -rf "$VOLUMES"
}

cmd_volumes() {
  ((EUID == 0)) || die "needs root (the volumes' directories in the node's state directory)"
  if [[ ${1:-} == --delete ]]; then
    delete_data
    log "deleted: the claims $(claims) in namespace $NS, Secret $(fullname)-postgres, their volumes and data"
  else
    ensure_volumes
    log "volumes for the claims $(claims) in namespace $NS: $(kubectl get pv -l "$VOLUME_LABEL=$NS" -o name | tr '\n' ' ')"
  fi
}

case "${1:-}" in
  install) shift; cmd_install "$@" ;;
  uninstall) shift; cmd_uninstall "$@" ;;
  volumes) shift; cmd_volumes "$@" ;;
  *) echo "usage: $0 install [HELM_ARGS...] | uninstall [--purge] | volumes [--delete]" >&2; exit 2 ;;
esac
