#!/usr/bin/env bash
# The kind workflow (npm run kind:up): a kind cluster, the images built and loaded, the chart
# installed (bundled PostgreSQL/Kafka, a `movies` model trained at install, kube-prometheus-stack),
# examples/trainingrun.yaml applied and awaited until promoted, one API call, then Grafana.
# Needs docker, kind, kubectl and helm; `npm run kind:down` deletes the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${KIND_CLUSTER:-netflicks}
NS=${NETFLICKS_NAMESPACE:-netflicks}
# An immutable tag per build (kind keeps images by name: a reused tag would keep a stale one).
TAG=${NETFLICKS_TAG:-dev-$(date +%Y%m%d%H%M%S)}
RUN=movies-manual-1 # metadata.name in examples/trainingrun.yaml

for tool in docker kind kubectl helm curl; do
  command -v "$tool" >/dev/null || { echo "kind-up: $tool is required" >&2; exit 1; }
done

kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER" --wait 180s
kubectl config use-context "kind-$CLUSTER" >/dev/null

for target in operator recommend-api ingest evaluator simulator trainer; do
  docker build --target "$target" --tag "netflicks-$target:$TAG" .
  kind load docker-image --name "$CLUSTER" "netflicks-$target:$TAG"
done

helm dependency build charts/netflicks
helm upgrade --install netflicks charts/netflicks --namespace "$NS" --create-namespace \
  --set images.tag="$TAG" --wait --timeout 20m

kubectl -n "$NS" apply -f examples/trainingrun.yaml
# Promoted, or stop at the first other terminal phase with the run's status.
for _ in $(seq 240); do
  phase=$(kubectl -n "$NS" get trainingrun "$RUN" -o jsonpath='{.status.phase}')
  case $phase in
    Promoted) break ;;
    Failed | Rejected) kubectl -n "$NS" get trainingrun "$RUN" -o yaml >&2; exit 1 ;;
    *) ;; # Pending, Running, Succeeded, Validated: not there yet
  esac
  sleep 5
done
[[ ${phase:-} == Promoted ]] || { echo "kind-up: $RUN not promoted after 20 min (phase: ${phase:-none})" >&2; exit 1; }
kubectl -n "$NS" wait recommendermodel/movies --for=condition=Ready --timeout=10m

kubectl -n "$NS" port-forward svc/movies-api 8082:80 >/dev/null &
forward=$!
trap 'kill "$forward" 2>/dev/null || true' EXIT
curl -fsS --retry 10 --retry-connrefused --retry-delay 1 'http://127.0.0.1:8082/recommend/42?k=5'
echo

echo "Grafana: http://127.0.0.1:3000 (user admin, password below); Ctrl-C to stop."
kubectl -n "$NS" get secret netflicks-grafana -o jsonpath='{.data.admin-password}' | base64 -d
echo
kubectl -n "$NS" port-forward svc/netflicks-grafana 3000:80
