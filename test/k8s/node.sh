#!/usr/bin/env bash
# One real Kubernetes node attached to the test control plane (cluster.sh): containerd + runc +
# CNI bridge from Debian packages, kubelet, kube-proxy (iptables) and kube-scheduler built by
# build.sh at the control plane's version, and CoreDNS serving cluster.local. Needs root.
#
#   test/k8s/node.sh up       install packages if missing, build if needed, start, wait until Ready
#   test/k8s/node.sh down     stop everything and undo every change made to the host
#   test/k8s/node.sh status   exit 0 if the node is Ready, 3 if not
#   test/k8s/node.sh import IMAGE.tar...   import images into the node's containerd
#   test/k8s/node.sh images   list the images the node has
#
# cluster.sh up/down call this (K8S_NODE=0 skips it). NetworkPolicies are enforced by a policy
# agent, test/k8s/netpol.sh, which `up` starts once the node is Ready and `down` removes first
# (K8S_NETPOL=0 leaves it out). No registry is reachable from the machines
# this runs on, so every image is built here and imported: the pause image (pause.c), a busybox
# image for probes, and the project's images (test/k8s/images.sh).
#
# What `up` changes on the host, and `down` undoes: processes (containerd, kubelet, kube-proxy,
# kube-scheduler, coredns), pod containers and their mounts and network namespaces, the bridge
# $BRIDGE (10.244.0.1/24), iptables chains KUBE-* and CNI-*, net.ipv4.ip_forward (restored to its
# value before `up`). State and logs: $NETFLICKS_NODE_DIR (default ${TMPDIR:-/tmp}/netflicks-node).
# Images stay in containerd's root under the cache ($NETFLICKS_CACHE/node/containerd), so a warm
# `up` imports nothing.
#
# Machine facts the settings follow (Debian 12 VM, cgroup v1, root without CAP_SYS_RESOURCE):
#   containerd restrict_oom_score_adj: runc cannot lower a sandbox's oom_score_adj to -998 without
#     CAP_SYS_RESOURCE, and every sandbox would fail ("can't get final child's PID from pipe").
#   kubelet failCgroupV1: false and cgroupDriver: cgroupfs (no systemd; 1.35 refuses cgroup v1 by
#     default). containerd 1.6 has no RuntimeConfig RPC, so the kubelet uses its configured driver.
#
# Ports: kubelet 16250 (healthz 16248), kube-proxy 16256/16249, kube-scheduler 16459, CoreDNS on
# the node IP :53 (health 16180, ready 16181) behind the Service kube-system/kube-dns 10.0.0.10.
# Pods reach the API server (which listens on loopback only) through the Service default/kubernetes
# (10.0.0.1:443, in the apiserver's certificate): its endpoint is a socat forwarder on the pods'
# gateway, $POD_GATEWAY:$APISERVER_PORT -> 127.0.0.1:$APISERVER_PORT. metrics-server (resource
# metrics for HPAs) listens on the node IP :$METRICS_PORT behind the Service kube-system/metrics-server
# and the APIService v1beta1.metrics.k8s.io; the apiserver reaches it as its front proxy (cluster.sh).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/k8s/lib.sh
. "$SCRIPT_DIR/lib.sh"
# shellcheck source=test/k8s/node-settings.sh
. "$SCRIPT_DIR/node-settings.sh"
POD_GATEWAY=10.244.0.1
CLUSTER_DNS=10.0.0.10
BRIDGE=nfcni0
CTR_SOCK=/run/netflicks-containerd/containerd.sock
CTR_STATE=/run/netflicks-containerd
CTR_ROOT=$CACHE_ROOT/node/containerd
PAUSE_IMAGE=registry.k8s.io/pause:3.10.1
BUSYBOX_IMAGE=localhost/busybox:netflicks
START_TIMEOUT=${K8S_START_TIMEOUT:-120}
PACKAGES=(containerd runc containernetworking-plugins iptables conntrack busybox-static gcc libc6-dev socat)
COMPONENTS=(metrics-server apiserver-proxy coredns kube-proxy kubelet kube-scheduler containerd)
METRICS_PORT=16470
APISERVER_PORT=${K8S_APISERVER_PORT:-16443}

log() { echo "node.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

ctr_() { ctr -a "$CTR_SOCK" -n k8s.io "$@"; }
containerd_api() { ctr_ version >/dev/null 2>&1; }
kubectl_() { "$BIN/kubectl" --kubeconfig="$KC" "$@"; }

running_pid() {
  local pidfile=$DIR/$1.pid pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  local exe=$1
  [[ $1 == apiserver-proxy ]] && exe=socat
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$exe" || return 1
  echo "$pid"
}

# setsid + full redirection, as cluster.sh does: the process outlives the caller and holds none of
# its file descriptors.
start() {
  local name=$1
  shift
  running_pid "$name" >/dev/null && return 0
  rm -f "$DIR/$name.pid"
  # shellcheck disable=SC2016 # $$ expands in the child shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$DIR/$name.pid" "$@" </dev/null >>"$DIR/$name.log" 2>&1 9>&- &
  local waited=0
  while [[ ! -s $DIR/$name.pid ]] && ((waited < 50)); do sleep 0.1; waited=$((waited + 1)); done
}


node_ip() {
  local ip
  ip=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
  [[ -n $ip ]] || ip=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1)
  [[ -n $ip ]] || die "no IPv4 address to give the node"
  echo "$ip"
}


resolve_bin() {
  BIN=$("$SCRIPT_DIR/build.sh" paths | sed -n 's/^K8S_BIN=//p')
  [[ -n $BIN ]] || die "build.sh paths printed no K8S_BIN"
}

write_configs() {
  local ip=$1
  mkdir -p "$DIR/cni" "$DIR/kubelet" "$DIR/cni-ipam"
  containerd config default | sed \
    -e "s#^root = .*#root = \"$CTR_ROOT\"#" \
    -e "s#^state = .*#state = \"$CTR_STATE\"#" \
    -e "s#address = \"/run/containerd/containerd.sock\"#address = \"$CTR_SOCK\"#" \
    -e "s#sandbox_image = .*#sandbox_image = \"$PAUSE_IMAGE\"#" \
    -e 's#bin_dir = "/opt/cni/bin"#bin_dir = "/usr/lib/cni"#' \
    -e "s#conf_dir = \"/etc/cni/net.d\"#conf_dir = \"$DIR/cni\"#" \
    -e 's#restrict_oom_score_adj = false#restrict_oom_score_adj = true#' >"$DIR/containerd.toml"
  grep -q 'restrict_oom_score_adj = true' "$DIR/containerd.toml" || die "containerd's default config has no restrict_oom_score_adj to set"
  cat >"$DIR/cni/10-netflicks.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "netflicks-pods",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$DIR/cni-ipam",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$POD_GATEWAY" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
  # Anonymous access with AlwaysAllow: a throwaway test node on loopback-only control plane.
  cat >"$DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$CTR_SOCK
address: 0.0.0.0
port: 16250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 16248
authentication:
  anonymous: { enabled: true }
  webhook: { enabled: false }
authorization: { mode: AlwaysAllow }
podCIDR: $POD_CIDR
clusterDomain: cluster.local
clusterDNS: [$CLUSTER_DNS]
resolvConf: /etc/resolv.conf
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%" }
maxPods: 60
EOF
  cat >"$DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: { kubeconfig: $KC }
hostnameOverride: $NODE_NAME
clusterCIDR: 10.244.0.0/16
bindAddress: 0.0.0.0
healthzBindAddress: 127.0.0.1:16256
metricsBindAddress: 127.0.0.1:16249
conntrack: { maxPerCore: 0, min: 0 }
EOF
  cat >"$DIR/Corefile" <<EOF
.:53 {
    bind $ip
    errors
    health 127.0.0.1:16180
    ready 127.0.0.1:16181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KC netflicks-test
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
    loop
    loadbalance
}
EOF
}

# The pause image (sandbox) and a busybox image for probes, both from local files.
import_base_images() {
  local have
  have=$(ctr_ images ls -q)
  if ! grep -qx "$PAUSE_IMAGE" <<<"$have"; then
    local r=$DIR/rootfs-pause
    mkdir -p "$r"
    gcc -Os -static -o "$r/pause" "$SCRIPT_DIR/node/pause.c"
    strip "$r/pause"
    "$SCRIPT_DIR/mkimage.sh" "$r" "$PAUSE_IMAGE" "$DIR/pause.tar" '{"Entrypoint":["/pause"],"User":"65535:65535"}'
    ctr_ images import "$DIR/pause.tar" >/dev/null
    rm -rf "$r" "$DIR/pause.tar"
  fi
  if ! grep -qx "$BUSYBOX_IMAGE" <<<"$have"; then
    local r=$DIR/rootfs-busybox c
    mkdir -p "$r/bin" "$r/tmp" "$r/etc"
    chmod 1777 "$r/tmp"
    cp /bin/busybox "$r/bin/busybox"
    for c in sh cat echo env hostname httpd ls nslookup sleep wget; do ln -s busybox "$r/bin/$c"; done
    "$SCRIPT_DIR/mkimage.sh" "$r" "$BUSYBOX_IMAGE" "$DIR/busybox.tar" '{"Cmd":["sh"],"Env":["PATH=/bin"]}'
    ctr_ images import "$DIR/busybox.tar" >/dev/null
    rm -rf "$r" "$DIR/busybox.tar"
  fi
}

# The pod bridge exists before the first pod, so host services (the tests' PostgreSQL forwarder)
# can listen on the pods' gateway address right away. The CNI bridge plugin adopts it.
ensure_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  local addrs
  addrs=$(ip -4 addr show dev "$BRIDGE")
  [[ $addrs == *"inet $POD_GATEWAY/"* ]] || ip addr add "$POD_GATEWAY/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
}

node_ready() {
  [[ $(kubectl_ get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}
http_ok() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null) == 200 ]]; }

# The EndpointSlice of a selectorless Service whose one endpoint is on the host: NAMESPACE SERVICE IP PORTS
# (PORTS: flow-style YAML items, comma-separated).
endpoint_slice() {
  cat <<EOF
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: $2-netflicks-node
  namespace: $1
  labels: { kubernetes.io/service-name: $2, endpointslice.kubernetes.io/managed-by: netflicks-node }
addressType: IPv4
endpoints: [{ addresses: [$3], conditions: { ready: true } }]
ports: [$4]
EOF
}

# A Service in front of a process on the host: NAMESPACE NAME IP SERVICE_PORTS ENDPOINT_PORTS [CLUSTER_IP].
apply_host_service() {
  kubectl_ apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: { name: $2, namespace: $1, labels: { k8s-app: $2 } }
spec: { ${6:+clusterIP: $6, }ports: [$4] }
---
$(endpoint_slice "$1" "$2" "$3" "$5")
EOF
}

# Service kube-system/kube-dns at the kubelet's clusterDNS address, its endpoint the host's CoreDNS.
apply_dns_service() {
  local ports='{ name: dns, port: 53, protocol: UDP }, { name: dns-tcp, port: 53, protocol: TCP }'
  apply_host_service kube-system kube-dns "$1" "$ports" "$ports" "$CLUSTER_DNS"
}

# The endpoint of default/kubernetes (cluster.sh runs the apiserver with --endpoint-reconciler-type=none).
apply_apiserver_endpoint() {
  endpoint_slice default kubernetes "$POD_GATEWAY" "{ name: https, port: $APISERVER_PORT, protocol: TCP }" | kubectl_ apply -f - >/dev/null
}

apply_metrics_api() {
  apply_host_service kube-system metrics-server "$1" "{ name: https, port: 443, protocol: TCP, targetPort: $METRICS_PORT }" \
    "{ name: https, port: $METRICS_PORT, protocol: TCP }"
}

# Registered only once kube-proxy routes the Service's ClusterIP: otherwise the apiserver's first
# connection to it leaves the host (here a transparent HTTPS proxy answers any address, 404) and
# stays open, and the metrics API never becomes available.
register_metrics_api() {
  kubectl_ apply -f - >/dev/null <<EOF
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: { name: v1beta1.metrics.k8s.io }
spec:
  service: { name: metrics-server, namespace: kube-system, port: 443 }
  group: metrics.k8s.io
  version: v1beta1
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
EOF
}

metrics_service_routed() {
  local ip rules
  ip=$(kubectl_ -n kube-system get service metrics-server -o jsonpath='{.spec.clusterIP}' 2>/dev/null)
  rules=$(iptables -t nat -S KUBE-SERVICES 2>/dev/null)
  [[ -n $ip && $rules == *"-d $ip/32"* ]]
}

metrics_api_available() {
  [[ $(kubectl_ get apiservice v1beta1.metrics.k8s.io -o jsonpath='{.status.conditions[?(@.type=="Available")].status}' 2>/dev/null) == True ]]
}

cmd_up() {
  local t0=$SECONDS
  ((EUID == 0)) || die "the node needs root (containerd, iptables, a bridge); K8S_NODE=0 starts the control plane alone"
  [[ -f $KC ]] || die "no control plane kubeconfig at $KC: run test/k8s/cluster.sh up"
  install_debian_packages "${PACKAGES[@]}"
  "$SCRIPT_DIR/build.sh" node
  resolve_bin
  local t1=$SECONDS ip
  ip=$(node_ip)
  mkdir -p "$DIR" "$CTR_ROOT"
  exec 9>"$DIR.lock"
  flock 9
  local name all=1
  for name in "${COMPONENTS[@]}"; do running_pid "$name" >/dev/null || all=0; done
  if ((all)) && node_ready; then
    log "node $NODE_NAME already Ready (state $DIR)"
    flock -u 9
    [[ ${K8S_NETPOL:-1} == 0 ]] || "$SCRIPT_DIR/netpol.sh" up
    return 0
  fi
  [[ -f $DIR/ip_forward.before ]] || cat /proc/sys/net/ipv4/ip_forward >"$DIR/ip_forward.before"
  write_configs "$ip"
  start containerd containerd --config "$DIR/containerd.toml"
  wait_until "containerd's socket" containerd test -S "$CTR_SOCK"
  wait_until "containerd's API" containerd containerd_api
  import_base_images
  ensure_bridge
  sysctl -qw net.ipv4.ip_forward=1
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$KC" --leader-elect=false --bind-address=127.0.0.1 --secure-port=16459
  start kubelet "$BIN/kubelet" --config="$DIR/kubelet.yaml" --kubeconfig="$KC" --root-dir="$DIR/kubelet" \
    --cert-dir="$DIR/kubelet/pki" --hostname-override="$NODE_NAME" --node-ip="$ip"
  start kube-proxy "$BIN/kube-proxy" --config="$DIR/kube-proxy.yaml"
  start coredns "$BIN/coredns" -conf "$DIR/Corefile"
  start apiserver-proxy socat "TCP-LISTEN:$APISERVER_PORT,bind=$POD_GATEWAY,fork,reuseaddr" "TCP:127.0.0.1:$APISERVER_PORT"
  # The kubelet is reached on its node IP with its self-signed certificate (a throwaway node).
  start metrics-server "$BIN/metrics-server" --kubeconfig="$KC" --authentication-kubeconfig="$KC" --authorization-kubeconfig="$KC" \
    --bind-address="$ip" --secure-port="$METRICS_PORT" --cert-dir="$DIR/metrics-server" \
    --kubelet-insecure-tls --kubelet-preferred-address-types=InternalIP --kubelet-use-node-status-port --metric-resolution=15s
  apply_dns_service "$ip"
  apply_apiserver_endpoint
  apply_metrics_api "$ip"
  wait_until "kube-proxy /healthz" kube-proxy http_ok http://127.0.0.1:16256/healthz
  wait_until "kube-proxy to route the metrics-server Service" kube-proxy metrics_service_routed
  register_metrics_api
  wait_until "CoreDNS /ready" coredns http_ok http://127.0.0.1:16181/ready
  wait_until "node $NODE_NAME Ready" kubelet node_ready
  wait_until "the metrics API (APIService v1beta1.metrics.k8s.io Available)" metrics-server metrics_api_available
  log "node $NODE_NAME Ready ($ip, pods $POD_CIDR, DNS $CLUSTER_DNS; build check $((t1 - t0))s, start $((SECONDS - t1))s, state $DIR)"
  [[ ${K8S_NETPOL:-1} == 0 ]] || "$SCRIPT_DIR/netpol.sh" up
}

stop_component() {
  local name=$1 pid t0=$SECONDS
  pid=$(running_pid "$name") || { rm -f "$DIR/$name.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS - t0 >= 10)); then kill -KILL "$pid" 2>/dev/null || true; break; fi
    sleep 0.1
  done
  rm -f "$DIR/$name.pid"
  log "stopped $name (pid $pid)"
}

# Deletes the rules that jump to chains matching $2 from the built-in chains, then those chains.
drop_chains() {
  local ipt=$1 prefix=$2 table rule ch
  for table in filter nat mangle; do
    { "$ipt" -t "$table" -S 2>/dev/null || true; } | { grep -E "^-A [A-Z]+ .*-j $prefix" || true; } | sed 's/^-A/-D/' | while read -r rule; do
      eval "$ipt -t $table $rule" 2>/dev/null || true
    done
    local chains
    chains=$("$ipt" -t "$table" -S 2>/dev/null | awk -v p="$prefix" '$1 == "-N" && index($2, p) == 1 {print $2}' || true)
    for ch in $chains; do "$ipt" -t "$table" -F "$ch" 2>/dev/null || true; done
    for ch in $chains; do "$ipt" -t "$table" -X "$ch" 2>/dev/null || true; done
  done
}

cmd_down() {
  [[ -d $DIR ]] || { log "not running (no $DIR)"; return 0; }
  exec 9>"$DIR.lock"
  flock 9
  resolve_bin
  "$SCRIPT_DIR/netpol.sh" down
  stop_component metrics-server
  stop_component apiserver-proxy
  stop_component coredns
  stop_component kube-proxy
  stop_component kubelet
  stop_component kube-scheduler
  if running_pid containerd >/dev/null; then
    local t c
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s KILL "$t" >/dev/null 2>&1 || true; done
    sleep 1
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$t" >/dev/null 2>&1 || true; done
    for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$c" >/dev/null 2>&1 || true; done
  fi
  stop_component containerd
  # Mounts the kubelet and CRI left (volumes, sandbox /dev/shm, rootfs), deepest first.
  local m
  for m in $(awk '{print $2}' /proc/mounts | grep -E "^($DIR|$CTR_STATE|$CTR_ROOT)/" | sort -r || true); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '/^cni-/{print $1}'); do ip netns delete "$ns" 2>/dev/null || true; done
  ip link delete "$BRIDGE" 2>/dev/null || true
  if [[ -x $BIN/kube-proxy ]]; then "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
  drop_chains iptables 'CNI-'
  drop_chains iptables 'KUBE-'
  drop_chains ip6tables 'KUBE-'
  if [[ -f $DIR/ip_forward.before ]]; then sysctl -qw "net.ipv4.ip_forward=$(<"$DIR/ip_forward.before")"; fi
  # The kubelet's cgroups (cgroup v1: one tree per controller), leaves first.
  find /sys/fs/cgroup/*/kubepods* -depth -type d -exec rmdir {} + 2>/dev/null || true
  kubectl_ delete node "$NODE_NAME" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  kubectl_ -n default delete endpointslice kubernetes-netflicks-node --ignore-not-found >/dev/null 2>&1 || true
  kubectl_ -n kube-system delete service kube-dns metrics-server --ignore-not-found >/dev/null 2>&1 || true
  kubectl_ delete apiservice v1beta1.metrics.k8s.io --ignore-not-found >/dev/null 2>&1 || true
  rm -rf "$DIR" "$CTR_STATE"
  log "node down (images kept in $CTR_ROOT)"
}

cmd_status() {
  local name pid state=0
  for name in "${COMPONENTS[@]}"; do
    if pid=$(running_pid "$name"); then echo "$name: running (pid $pid)"; else echo "$name: stopped"; state=3; fi
  done
  resolve_bin
  if node_ready; then echo "node $NODE_NAME: Ready"; else echo "node $NODE_NAME: not Ready"; state=3; fi
  if [[ ${K8S_NETPOL:-1} != 0 ]]; then "$SCRIPT_DIR/netpol.sh" status || state=3; fi
  return "$state"
}

cmd_images() {
  [[ -S $CTR_SOCK ]] || die "the node's containerd is not running (test/k8s/cluster.sh up)"
  ctr_ images ls -q
}

cmd_import() {
  (($# > 0)) || die "usage: $0 import IMAGE.tar..."
  [[ -S $CTR_SOCK ]] || die "the node's containerd is not running (test/k8s/cluster.sh up)"
  local f
  for f in "$@"; do ctr_ images import "$f" >/dev/null; done
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  import) shift; cmd_import "$@" ;;
  images) cmd_images ;;
  *) echo "usage: $0 up|down|status|images|import IMAGE.tar..." >&2; exit 2 ;;
esac
