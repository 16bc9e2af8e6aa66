#!/usr/bin/env bash
# NetworkPolicy enforcement on the test node (node.sh). The node's CNI (Debian's bridge plugin)
# enforces no NetworkPolicy; this adds a real policy agent: kube-network-policies (Kubernetes
# SIG Network), built from the Go module proxy, run on the host.
#
#   test/k8s/netpol.sh build    build the agent into the cache if it is missing (~2-4 min cold, 12 s warm)
#   test/k8s/netpol.sh up       build if needed, start the agent, divert pod traffic to it
#   test/k8s/netpol.sh down     remove the diversion, stop the agent, delete its API objects
#   test/k8s/netpol.sh status   exit 0 if the agent runs and holds its queue, 3 if not
#
# node.sh up/down call this (K8S_NETPOL=0 leaves it out).
#
# How it enforces: the agent reads NetworkPolicies, Pods and Namespaces from the API server and
# answers, for the first packet of each connection, accept or drop (NFQUEUE). Upstream the agent
# diverts packets with an nftables `queue` rule, and this kernel has no nft_queue
# (CONFIG_NFT_QUEUE unset: `nft add rule ... queue num 100` fails "No such file or directory"),
# while the iptables NFQUEUE target (xt_NFQUEUE through nft_compat) is built in. So this script
# installs the same diversion the agent would, with iptables: in mangle POSTROUTING (before
# kube-proxy's SNAT, after its DNAT, like upstream's postrouting chain) new connections from or to
# a pod go to queue $QUEUE, except those of host processes running as root (kubelet probes).
# Connections from a pod to the host itself (CoreDNS, the API server's forwarder, the kubelet and
# anything else listening on the node) never pass POSTROUTING: they are delivered locally, so they
# are diverted in mangle INPUT too (after kube-proxy's DNAT), and egress policies cover them.
# The agent's own nftables attempt fails as a whole (one netlink transaction), so it leaves
# nothing behind; it logs "syncing nftables rules" errors (on each pod or policy change) that are
# expected here.
# --queue-bypass: while no agent listens, packets pass (fail open), so stopping the agent never
# cuts the shared node's pods off; while it runs, a packet a policy denies is dropped.
#
# Its credentials: a ServiceAccount kube-system/netflicks-netpol with read access to the objects
# above (a legacy token Secret, which does not expire). The agent only knows in-cluster config,
# so it runs in a private mount namespace whose /run holds the token and the cluster CA where
# a pod would have them; the host's /run is untouched.
#
# What `up` changes on the host, and `down` undoes: one process (kube-network-policies), the
# iptables chains NETFLICKS-NETPOL and NETFLICKS-NETPOL-IN in the mangle table and their jumps
# from POSTROUTING and INPUT.
# State and logs: $NETFLICKS_NODE_DIR/netpol*. Metrics on 127.0.0.1:$METRICS_PORT/metrics.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/k8s/lib.sh
. "$SCRIPT_DIR/lib.sh"
# shellcheck source=test/k8s/node-settings.sh
. "$SCRIPT_DIR/node-settings.sh"
KNP_VERSION=${KNP_VERSION:-0.8.0}
KNP_MODULE=sigs.k8s.io/kube-network-policies
KNP_BIN=$CACHE_ROOT/netpol/$KNP_VERSION/bin/kube-network-policies
QUEUE=${K8S_NETPOL_QUEUE:-100}
METRICS_PORT=16490
CHAIN=NETFLICKS-NETPOL
CHAIN_IN=NETFLICKS-NETPOL-IN
NAME=netpol
SA=netflicks-netpol
START_TIMEOUT=${K8S_START_TIMEOUT:-120}

log() { echo "netpol.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

kubectl_() { "$BIN/kubectl" --kubeconfig="$KC" "$@"; }
resolve_bin() {
  BIN=$("$SCRIPT_DIR/build.sh" paths | sed -n 's/^K8S_BIN=//p')
  [[ -n $BIN ]] || die "build.sh paths printed no K8S_BIN"
}

running_pid() {
  local pidfile=$DIR/$1.pid pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q kube-network-policies || return 1
  echo "$pid"
}

# The module version go recorded in the binary ("" if there is none).
built_version() {
  [[ -x $KNP_BIN ]] || return 0
  go version -m "$KNP_BIN" 2>/dev/null | awk -v m="$KNP_MODULE" '$1 == "mod" && $2 == m {print $3}'
}

cmd_build() {
  [[ $(built_version) == "v$KNP_VERSION" ]] && { log "kube-network-policies v$KNP_VERSION: cached"; return 0; }
  command -v go >/dev/null || die "no go toolchain on PATH (test/k8s/build.sh needs the same one)"
  local t0=$SECONDS out=$CACHE_ROOT/netpol/$KNP_VERSION logfile
  mkdir -p "$out/bin"
  logfile=$out/build.log
  log "kube-network-policies v$KNP_VERSION: building (~2-4 min cold on 2 idle cores, 11 min measured at load 20; log $logfile)"
  # `go install mod/cmd@version` names the binary after its directory, "cmd".
  if ! CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOBIN=$out/tmp \
    go install -trimpath -ldflags "-s -w" "$KNP_MODULE/cmd@v$KNP_VERSION" >"$logfile" 2>&1; then
    tail -n 30 "$logfile" >&2
    die "go install $KNP_MODULE/cmd@v$KNP_VERSION failed (log $logfile)"
  fi
  mv -f "$out/tmp/cmd" "$KNP_BIN"
  rmdir "$out/tmp"
  [[ $(built_version) == "v$KNP_VERSION" ]] || die "built binary reports '$(built_version)', want v$KNP_VERSION"
  log "kube-network-policies v$KNP_VERSION: built in $((SECONDS - t0))s"
}

# Read access to what the agent evaluates, as upstream's install.yaml grants it.
apply_rbac() {
  kubectl_ apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: { name: $SA, namespace: kube-system }
---
apiVersion: v1
kind: Secret
metadata: { name: $SA-token, namespace: kube-system, annotations: { kubernetes.io/service-account.name: $SA } }
type: kubernetes.io/service-account-token
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: $SA }
rules:
  - apiGroups: [""]
    resources: [pods, namespaces, nodes]
    verbs: [list, watch]
  - apiGroups: [networking.k8s.io]
    resources: [networkpolicies]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: $SA }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: $SA }
subjects: [{ kind: ServiceAccount, name: $SA, namespace: kube-system }]
EOF
}

token_ready() { [[ -n $(kubectl_ -n kube-system get secret "$SA-token" -o jsonpath='{.data.token}' 2>/dev/null) ]]; }

write_credentials() {
  local sa=$DIR/netpol-serviceaccount
  mkdir -p "$sa"
  chmod 700 "$sa"
  kubectl_ -n kube-system get secret "$SA-token" -o jsonpath='{.data.token}' | base64 -d >"$sa/token"
  kubectl_ -n kube-system get secret "$SA-token" -o jsonpath='{.data.ca\.crt}' | base64 -d >"$sa/ca.crt"
  echo kube-system >"$sa/namespace"
  [[ -s $sa/token && -s $sa/ca.crt ]] || die "the token Secret kube-system/$SA-token has no token or ca.crt"
}

# The apiserver's address as the kubeconfig names it (loopback: the agent runs on the host).
apiserver_host_port() {
  local server
  server=$(sed -n 's/^ *server: *https:\/\///p' "$KC" | head -n1)
  [[ $server == *:* ]] || die "no https server:port in $KC"
  echo "$server"
}

start_agent() {
  running_pid "$NAME" >/dev/null && return 0
  local hp host port sa=$DIR/netpol-serviceaccount
  hp=$(apiserver_host_port)
  host=${hp%:*}
  port=${hp##*:}
  rm -f "$DIR/$NAME.pid"
  # A private mount namespace with its own /run: the token lands where rest.InClusterConfig reads it.
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid env KUBERNETES_SERVICE_HOST="$host" KUBERNETES_SERVICE_PORT="$port" \
    unshare --mount --propagation private bash -c '
      set -e
      echo $$ >"$1"
      mount -t tmpfs -o size=1m,mode=0755 netflicks-netpol /run
      mkdir -p /run/secrets/kubernetes.io/serviceaccount
      cp "$2"/token "$2"/ca.crt "$2"/namespace /run/secrets/kubernetes.io/serviceaccount/
      shift 2
      exec "$@"' netpol "$DIR/$NAME.pid" "$sa" \
    "$KNP_BIN" --hostname-override="$NODE_NAME" --nfqueue-id="$QUEUE" --disable-nri \
    --netfilter-bug-1766-fix=false --metrics-bind-address="127.0.0.1:$METRICS_PORT" \
    </dev/null >>"$DIR/$NAME.log" 2>&1 8>&- 9>&- &
  local waited=0
  while [[ ! -s $DIR/$NAME.pid ]] && ((waited < 50)); do sleep 0.1; waited=$((waited + 1)); done
}

# The kernel lists a queue once a process has bound it.
queue_bound() { awk -v q="$QUEUE" '$1 == q {found = 1} END {exit !found}' /proc/net/netfilter/nfnetlink_queue 2>/dev/null; }

# The diversion upstream installs with nftables (see the header), in iptables.
add_rules() {
  iptables -t mangle -N "$CHAIN" 2>/dev/null || iptables -t mangle -F "$CHAIN"
  iptables -t mangle -A "$CHAIN" -m owner --uid-owner 0 -j RETURN -m comment --comment "host processes as root (kubelet probes)"
  iptables -t mangle -A "$CHAIN" -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
  iptables -t mangle -A "$CHAIN" -s "$POD_CIDR" -j NFQUEUE --queue-num "$QUEUE" --queue-bypass
  iptables -t mangle -A "$CHAIN" -d "$POD_CIDR" -j NFQUEUE --queue-num "$QUEUE" --queue-bypass
  iptables -t mangle -C POSTROUTING -j "$CHAIN" 2>/dev/null || iptables -t mangle -I POSTROUTING 1 -j "$CHAIN"
  # Pod -> host. No owner match here: it is valid in OUTPUT and POSTROUTING only, and every packet
  # that reaches INPUT from the pod range was sent by a pod.
  iptables -t mangle -N "$CHAIN_IN" 2>/dev/null || iptables -t mangle -F "$CHAIN_IN"
  iptables -t mangle -A "$CHAIN_IN" -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
  iptables -t mangle -A "$CHAIN_IN" -s "$POD_CIDR" -j NFQUEUE --queue-num "$QUEUE" --queue-bypass
  iptables -t mangle -C INPUT -j "$CHAIN_IN" 2>/dev/null || iptables -t mangle -I INPUT 1 -j "$CHAIN_IN"
}

rules_installed() { iptables -t mangle -C POSTROUTING -j "$CHAIN" 2>/dev/null && iptables -t mangle -C INPUT -j "$CHAIN_IN" 2>/dev/null; }

remove_rules() {
  while iptables -t mangle -D POSTROUTING -j "$CHAIN" 2>/dev/null; do :; done
  while iptables -t mangle -D INPUT -j "$CHAIN_IN" 2>/dev/null; do :; done
  local c
  for c in "$CHAIN" "$CHAIN_IN"; do
    iptables -t mangle -F "$c" 2>/dev/null || true
    iptables -t mangle -X "$c" 2>/dev/null || true
  done
}

cmd_up() {
  ((EUID == 0)) || die "the policy agent needs root (iptables, netfilter queues)"
  [[ -f $KC ]] || die "no control plane kubeconfig at $KC: run test/k8s/cluster.sh up"
  cmd_build
  resolve_bin
  mkdir -p "$DIR"
  exec 8>"$DIR/netpol.lock"
  flock 8
  if running_pid "$NAME" >/dev/null && queue_bound; then
    # A node started by an older version of this script may lack the INPUT diversion.
    rules_installed || add_rules
    log "kube-network-policies already enforcing (queue $QUEUE)"
    return 0
  fi
  local t0=$SECONDS
  apply_rbac
  local waited=0
  until token_ready; do
    ((waited < START_TIMEOUT * 5)) || die "kube-controller-manager wrote no token into kube-system/$SA-token in ${START_TIMEOUT}s"
    sleep 0.2
    waited=$((waited + 1))
  done
  write_credentials
  start_agent
  wait_until "kube-network-policies to bind netfilter queue $QUEUE" "$NAME" queue_bound
  add_rules
  log "kube-network-policies v$KNP_VERSION enforcing NetworkPolicies on $NODE_NAME (queue $QUEUE, ${POD_CIDR}; $((SECONDS - t0))s; log $DIR/$NAME.log)"
}

cmd_down() {
  remove_rules
  local pid t0=$SECONDS
  if pid=$(running_pid "$NAME"); then
    # SIGTERM lets the agent remove its own nftables table (there is none here; see the header).
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS - t0 >= 15)); then kill -KILL "$pid" 2>/dev/null || true; break; fi
      sleep 0.1
    done
    log "stopped kube-network-policies (pid $pid)"
  fi
  rm -f "$DIR/$NAME.pid"
  rm -rf "$DIR/netpol-serviceaccount"
  if [[ -f $KC ]]; then
    resolve_bin
    kubectl_ delete clusterrolebinding,clusterrole "$SA" --ignore-not-found >/dev/null 2>&1 || true
    kubectl_ -n kube-system delete secret "$SA-token" --ignore-not-found >/dev/null 2>&1 || true
    kubectl_ -n kube-system delete serviceaccount "$SA" --ignore-not-found >/dev/null 2>&1 || true
  fi
}

cmd_status() {
  local pid
  if pid=$(running_pid "$NAME"); then echo "kube-network-policies: running (pid $pid)"; else echo "kube-network-policies: stopped"; return 3; fi
  queue_bound || { echo "netfilter queue $QUEUE: not bound"; return 3; }
  rules_installed || { echo "iptables mangle $CHAIN/$CHAIN_IN: not installed"; return 3; }
  echo "NetworkPolicies enforced (queue $QUEUE)"
}

case "${1:-}" in
  build) cmd_build ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 build|up|down|status" >&2; exit 2 ;;
esac
