#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for tests, in the spirit of controller-runtime's
# envtest: etcd, kube-apiserver and kube-controller-manager (Jobs, garbage collector, the default
# ServiceAccount), and one real node (test/k8s/node.sh: containerd, kubelet, kube-proxy,
# kube-scheduler, CoreDNS) so Pods run. K8S_NODE=0 starts the control plane alone: Pods then stay
# Pending. A namespace annotated scheduler.alpha.kubernetes.io/node-selector=<a label no node has>
# keeps its Pods Pending even with the node (PodNodeSelector admission), for tests that play the kubelet.
#
#   test/k8s/cluster.sh up       build if needed (test/k8s/build.sh k8s node), start, wait until ready
#   test/k8s/cluster.sh down     stop the node and the processes and delete the state dir
#   test/k8s/cluster.sh status   exit 0 if running and ready, 3 if not
#   test/k8s/cluster.sh env      print `export KUBECONFIG=... PATH=...` (eval "$(test/k8s/cluster.sh env)")
#   test/k8s/cluster.sh logs [etcd|kube-apiserver|kube-controller-manager]
#
# Environment:
#   NETFLICKS_K8S_DIR   state dir: data, pki, tokens, kubeconfig, logs (default ${TMPDIR:-/tmp}/netflicks-k8s)
#   K8S_ETCD_PORT       etcd client port on 127.0.0.1, default 23790 (peer port K8S_ETCD_PEER_PORT, 23800)
#   K8S_APISERVER_PORT  kube-apiserver https port, default 16443
#   K8S_KCM_PORT        kube-controller-manager https (healthz) port, default 16457
#   K8S_START_TIMEOUT   seconds to wait for each component, default 120
#   K8S_NODE            1 (default) to start the node too (needs root), 0 for the control plane alone
#   K8S_VERSION, ETCD_VERSION, NETFLICKS_CACHE   passed on to build.sh
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/k8s/lib.sh
. "$SCRIPT_DIR/lib.sh"
DIR=${NETFLICKS_K8S_DIR:-${TMPDIR:-/tmp}/netflicks-k8s}
ETCD_PORT=${K8S_ETCD_PORT:-23790}
ETCD_PEER_PORT=${K8S_ETCD_PEER_PORT:-23800}
APISERVER_PORT=${K8S_APISERVER_PORT:-16443}
KCM_PORT=${K8S_KCM_PORT:-16457}
START_TIMEOUT=${K8S_START_TIMEOUT:-120}
WITH_NODE=${K8S_NODE:-1}
STOP_TIMEOUT=10
COMPONENTS=(etcd kube-apiserver kube-controller-manager)
MARKER=$DIR/.netflicks-k8s
KUBECONFIG_FILE=$DIR/kubeconfig
APISERVER_URL=https://127.0.0.1:$APISERVER_PORT

log() { echo "cluster.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Prints the component's pid if its pid file names a live process running that binary.
running_pid() {
  local pidfile=$DIR/$1.pid pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "/$1 " || return 1
  echo "$pid"
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

token() { cut -d, -f1 "$DIR/tokens.csv"; }

apiserver_ready() {
  [[ -f $DIR/tokens.csv ]] || return 1
  [[ $(curl -sk --max-time 3 -H "Authorization: Bearer $(token)" "$APISERVER_URL/readyz" 2>/dev/null) == ok ]]
}


# setsid + full redirection: the process outlives the caller and holds neither its stdout (a test
# runner waiting on `up` would hang) nor the lock fd.
start() {
  local name=$1 port=$2
  shift 2
  if port_open "$port"; then die "127.0.0.1:$port (for $name) is in use by a process this script did not start"; fi
  rm -f "$DIR/$name.pid"
  # shellcheck disable=SC2016 # $$ expands in the child shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$DIR/$name.pid" "$BIN/$name" "$@" \
    </dev/null >>"$DIR/$name.log" 2>&1 9>&- &
  local waited=0
  while [[ ! -s $DIR/$name.pid ]] && ((waited < 50)); do sleep 0.1; waited=$((waited + 1)); done
}

# First `up` on a fresh state dir: service-account key, token file, admin kubeconfig.
init_state() {
  [[ -f $MARKER ]] && return 0
  mkdir -p "$DIR/pki" "$DIR/etcd"
  chmod 700 "$DIR" "$DIR/etcd"
  openssl genrsa -out "$DIR/pki/sa.key" 2048 2>/dev/null
  echo "$(openssl rand -hex 16),admin,admin,\"system:masters\"" >"$DIR/tokens.csv"
  cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: netflicks-test
  cluster:
    server: $APISERVER_URL
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: $(token)
contexts:
- name: netflicks-test
  context:
    cluster: netflicks-test
    user: admin
current-context: netflicks-test
EOF
  chmod 600 "$KUBECONFIG_FILE" "$DIR/tokens.csv" "$DIR/pki/sa.key"
  touch "$MARKER"
}

# The aggregation layer's client identity (front proxy): extension API servers such as the node's
# metrics-server trust requests the apiserver forwards when they carry this certificate.
init_front_proxy() {
  local pki=$DIR/pki
  [[ -f $pki/front-proxy-client.crt ]] && return 0
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=front-proxy-ca \
    -keyout "$pki/front-proxy-ca.key" -out "$pki/front-proxy-ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=front-proxy-client \
    -keyout "$pki/front-proxy-client.key" -out "$pki/front-proxy-client.csr" 2>/dev/null
  openssl x509 -req -days 3650 -in "$pki/front-proxy-client.csr" -CA "$pki/front-proxy-ca.crt" -CAkey "$pki/front-proxy-ca.key" \
    -CAcreateserial -out "$pki/front-proxy-client.crt" 2>/dev/null
  chmod 600 "$pki"/front-proxy-*.key
}

start_etcd() {
  running_pid etcd >/dev/null && return 0
  local url=http://127.0.0.1:$ETCD_PORT peer=http://127.0.0.1:$ETCD_PEER_PORT
  port_open "$ETCD_PEER_PORT" && die "etcd peer port 127.0.0.1:$ETCD_PEER_PORT is in use"
  # No fsync: throwaway data. Progress notifications: the apiserver's watch cache needs them
  # for consistent reads from cache (locked on since 1.35).
  start etcd "$ETCD_PORT" --name=netflicks-test --data-dir="$DIR/etcd" \
    --listen-client-urls="$url" --advertise-client-urls="$url" \
    --listen-peer-urls="$peer" --initial-advertise-peer-urls="$peer" \
    --initial-cluster="netflicks-test=$peer" --initial-cluster-state=new \
    --unsafe-no-fsync=true --watch-progress-notify-interval=5s --log-level=warn
  wait_until "etcd health on $url" etcd etcd_healthy
}

etcd_healthy() { curl -s --max-time 3 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'; }

start_apiserver() {
  running_pid kube-apiserver >/dev/null && return 0
  # No --tls-cert-file: the apiserver self-signs a serving cert into --cert-dir.
  start kube-apiserver "$APISERVER_PORT" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --cert-dir="$DIR/pki" --service-cluster-ip-range=10.0.0.0/24 --allow-privileged=true \
    --authorization-mode=RBAC --token-auth-file="$DIR/tokens.csv" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$DIR/pki/sa.key" --service-account-signing-key-file="$DIR/pki/sa.key" \
    --endpoint-reconciler-type=none --profiling=false \
    --enable-admission-plugins=PodNodeSelector --kubelet-preferred-address-types=InternalIP,Hostname \
    --requestheader-client-ca-file="$DIR/pki/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$DIR/pki/front-proxy-client.crt" --proxy-client-key-file="$DIR/pki/front-proxy-client.key"
  wait_until "kube-apiserver /readyz on $APISERVER_URL" kube-apiserver apiserver_ready
}

kcm_healthy() { [[ $(curl -sk --max-time 3 "https://127.0.0.1:$KCM_PORT/healthz" 2>/dev/null) == ok ]]; }

start_kcm() {
  running_pid kube-controller-manager >/dev/null && return 0
  # The SA private key lets the token controller sign; the apiserver's self-signed cert is the
  # root CA published in kube-root-ca.crt. HPAs are evaluated every 5 s and scale in after 30 s of
  # low load (defaults 15 s and 5 min), so a test sees both directions within minutes.
  start kube-controller-manager "$KCM_PORT" --kubeconfig="$KUBECONFIG_FILE" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --cert-dir="$DIR/pki/kcm" --leader-elect=false --controllers='*' \
    --service-account-private-key-file="$DIR/pki/sa.key" --root-ca-file="$DIR/pki/apiserver.crt" \
    --service-cluster-ip-range=10.0.0.0/24 --profiling=false \
    --horizontal-pod-autoscaler-downscale-stabilization=30s --horizontal-pod-autoscaler-sync-period=5s
  wait_until "kube-controller-manager /healthz on port $KCM_PORT" kube-controller-manager kcm_healthy
}

default_sa_exists() { "$BIN/kubectl" --kubeconfig="$KUBECONFIG_FILE" -n default get serviceaccount default >/dev/null 2>&1; }

# The built kubectl first on PATH (same version as the apiserver), then helm if it was built.
print_env() {
  local path=$BIN
  [[ -x $HELM_BIN/helm ]] && path+=:$HELM_BIN
  echo "export KUBECONFIG=$KUBECONFIG_FILE"
  echo "export PATH=$path:\$PATH"
}

resolve_bin() {
  local paths
  paths=$("$SCRIPT_DIR/build.sh" paths)
  BIN=$(sed -n 's/^K8S_BIN=//p' <<<"$paths")
  HELM_BIN=$(sed -n 's/^HELM_BIN=//p' <<<"$paths")
  [[ -n $BIN ]] || die "build.sh paths printed no K8S_BIN"
}

cmd_up() {
  local t0=$SECONDS
  "$SCRIPT_DIR/build.sh" k8s
  # Fail before starting anything if the node cannot start.
  if [[ $WITH_NODE != 0 ]] && ((EUID != 0)); then die "the node needs root; K8S_NODE=0 starts the control plane alone"; fi
  resolve_bin
  local t1=$SECONDS
  mkdir -p "$DIR"
  exec 9>"$DIR.lock"
  flock 9
  local name all=1
  for name in "${COMPONENTS[@]}"; do running_pid "$name" >/dev/null || all=0; done
  if ((all)) && apiserver_ready; then
    log "already running (Kubernetes $(cat "$DIR/version" 2>/dev/null), $APISERVER_URL, state $DIR)"
    start_node
    print_env
    return 0
  fi
  init_state
  init_front_proxy
  "$BIN/kube-apiserver" --version | sed -n 's/^Kubernetes //p' >"$DIR/version"
  ln -sfn "$BIN" "$DIR/bin"
  start_etcd
  start_apiserver
  start_kcm
  wait_until "the default ServiceAccount in namespace default" kube-controller-manager default_sa_exists
  log "Kubernetes $(cat "$DIR/version") ready on $APISERVER_URL (build check $((t1 - t0))s, start $((SECONDS - t1))s, state $DIR)"
  start_node
  print_env
}

start_node() {
  [[ $WITH_NODE == 0 ]] && return 0
  # The lock is for the control plane; the node has its own.
  exec 9>&-
  "$SCRIPT_DIR/node.sh" up
}

stop_pid() {
  local name=$1 pid=$2 t0=$SECONDS
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS - t0 >= STOP_TIMEOUT)); then
      log "$name did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  log "stopped $name (pid $pid)"
}

cmd_down() {
  # The node first, while the apiserver can still record it gone; it cleans up even without one.
  if [[ $WITH_NODE != 0 ]] && ((EUID == 0)); then "$SCRIPT_DIR/node.sh" down; fi
  [[ -d $DIR ]] || { log "not running (no $DIR)"; return 0; }
  exec 9>"$DIR.lock"
  flock 9
  local i pid
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    if pid=$(running_pid "${COMPONENTS[i]}"); then stop_pid "${COMPONENTS[i]}" "$pid"; fi
  done
  # Only ever delete a dir this script created (NETFLICKS_K8S_DIR could point anywhere).
  if [[ -f $MARKER ]]; then rm -rf "$DIR"; log "removed $DIR"; else rm -f "$DIR"/*.pid; fi
}

cmd_status() {
  local name pid state=0
  for name in "${COMPONENTS[@]}"; do
    if pid=$(running_pid "$name"); then echo "$name: running (pid $pid)"; else echo "$name: stopped"; state=3; fi
  done
  if apiserver_ready; then
    echo "apiserver: ready at $APISERVER_URL (Kubernetes $(cat "$DIR/version" 2>/dev/null)), kubeconfig $KUBECONFIG_FILE"
  else
    echo "apiserver: not ready"
    state=3
  fi
  return "$state"
}

cmd_logs() {
  local name=${1:-kube-apiserver}
  [[ -f $DIR/$name.log ]] || die "no log at $DIR/$name.log"
  tail -n 200 "$DIR/$name.log"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) resolve_bin; print_env ;;
  logs) shift; cmd_logs "$@" ;;
  *) echo "usage: $0 up|down|status|env|logs [component]" >&2; exit 2 ;;
esac
