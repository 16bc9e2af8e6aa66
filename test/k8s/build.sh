#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager, kubectl) and helm
# from the Go module proxy into a cache outside the checkout. Idempotent: a binary that already
# reports the pinned version is not rebuilt, so a warm run takes well under a second.
#
#   test/k8s/build.sh            all of it
#   test/k8s/build.sh k8s        etcd + Kubernetes control-plane binaries only
#   test/k8s/build.sh node       the node: kubelet, kube-proxy, kube-scheduler, CoreDNS, metrics-server
#   test/k8s/build.sh helm       helm only
#   test/k8s/build.sh skaffold   skaffold only (the developer loop; not part of `all`)
#   test/k8s/build.sh paths      print the bin dirs (nothing is built)
#
# Environment:
#   K8S_VERSION      default 1.35.4  (k8s.io/kubernetes; staging modules pinned to v0.<minor>.<patch>)
#   ETCD_VERSION     default 3.6.16  (go.etcd.io/etcd/server/v3; Kubernetes 1.34-1.36 pair with etcd 3.6)
#   HELM_VERSION     default 3.22.0  (helm.sh/helm/v3)
#   SKAFFOLD_VERSION default 2.13.2  (github.com/GoogleContainerTools/skaffold/v2; the proxy lists no
#                    versions for it, so the pin must be an exact one)
#   COREDNS_VERSION  default 1.14.7  (github.com/coredns/coredns; built on the same k8s.io v0.35 libraries)
#   METRICS_SERVER_VERSION  default 0.8.0  (sigs.k8s.io/metrics-server)
#   NETFLICKS_CACHE  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/netflicks). Layout:
#                      k8s/<K8S_VERSION>/bin/{etcd,kube-apiserver,kube-controller-manager,kubectl}
#                      k8s/<K8S_VERSION>/bin/{kubelet,kube-proxy,kube-scheduler,coredns,metrics-server}
#                      k8s/<K8S_VERSION>/src/{k8s,k8s-node,etcd,coredns,metrics-server}/   scratch Go modules
#                      helm/<HELM_VERSION>/bin/helm, helm/<HELM_VERSION>/src/
#                      skaffold/<SKAFFOLD_VERSION>/bin/skaffold, skaffold/<SKAFFOLD_VERSION>/src/
# Go's own caches (GOMODCACHE ~/go/pkg/mod, GOCACHE ~/.cache/go-build) are left at their defaults;
# a cold build takes ~15 min on 2 cores (etcd 1.5, Kubernetes 10, helm 3) and the node ~6-10 min
# more; a cached one < 1 s. `go build -v` output is counted while it runs, so a cold build reports
# progress every 30 s.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.35.4}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
HELM_VERSION=${HELM_VERSION:-3.22.0}
COREDNS_VERSION=${COREDNS_VERSION:-1.14.7}
METRICS_SERVER_VERSION=${METRICS_SERVER_VERSION:-0.8.0}
CACHE_ROOT=${NETFLICKS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netflicks}
K8S_DIR=$CACHE_ROOT/k8s/$K8S_VERSION
K8S_BIN=$K8S_DIR/bin
HELM_DIR=$CACHE_ROOT/helm/$HELM_VERSION
HELM_BIN=$HELM_DIR/bin
SKAFFOLD_VERSION=${SKAFFOLD_VERSION:-2.13.2}
SKAFFOLD_DIR=$CACHE_ROOT/skaffold/$SKAFFOLD_VERSION
SKAFFOLD_BIN=$SKAFFOLD_DIR/bin
K8S_MINOR=${K8S_VERSION#*.}
K8S_MINOR=${K8S_MINOR%%.*}
STAGING_VERSION=v0.${K8S_VERSION#*.}

# The staging modules k8s.io/kubernetes maps with `replace => ./staging/...` (ignored in a
# dependency, so the scratch module must supply its own). 1.36+ adds cri-streaming and streaming.
STAGING=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
  cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
  cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms
  kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
  mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller)
if ((K8S_MINOR >= 36)); then STAGING+=(cri-streaming streaming); fi
K8S_CMDS=(kube-apiserver kube-controller-manager kubectl)
NODE_CMDS=(kubelet kube-proxy kube-scheduler)

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=${GOTOOLCHAIN:-local}

log() { echo "build.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# The version line each binary prints, compared against the pin to decide whether to build.
binary_version() {
  local bin=$1
  [[ -x $bin ]] || return 0
  case ${bin##*/} in
    etcd) "$bin" --version 2>/dev/null | sed -n 's/^etcd Version: //p' ;;
    kubectl) "$bin" version --client 2>/dev/null | sed -n 's/^Client Version: //p' ;;
    coredns) "$bin" -version 2>/dev/null | sed -n 's/^CoreDNS-//p' ;;
    metrics-server) "$bin" --version 2>/dev/null | sed -n 's/^v//p' ;;
    helm) "$bin" version --template '{{.Version}}' 2>/dev/null ;;
    skaffold) "$bin" version 2>/dev/null ;;
    *) "$bin" --version 2>/dev/null | sed -n 's/^Kubernetes //p' ;;
  esac
}

up_to_date() { [[ $(binary_version "$1") == "$2" ]]; }

# go build output goes to a log shown on failure (module downloads are chatty). While go runs, a
# line every 30 s says how long it has been going and how many log lines (packages, with -v) it wrote.
run_go() {
  local logfile=$1
  shift
  local t0=$SECONDS rc=0 pid
  go "$@" >>"$logfile" 2>&1 &
  pid=$!
  while ! wait_up_to 30 "$pid"; do
    log "  ... go ${1}: $((SECONDS - t0))s, $(wc -l <"$logfile") lines in ${logfile##*/}"
  done
  wait "$pid" || rc=$?
  if ((rc != 0)); then
    tail -n 40 "$logfile" >&2
    die "go $* failed (full log: $logfile)"
  fi
}

# True once process $2 has exited, false if it still runs after $1 seconds.
wait_up_to() {
  local i
  for ((i = 0; i < $1 * 5; i++)); do
    kill -0 "$2" 2>/dev/null || return 0
    sleep 0.2
  done
  return 1
}

# A fresh scratch Go module netflicks.local/NAME in SRC (an earlier one removed), with an empty
# build log SRC/build.log: scratch_module SRC NAME.
scratch_module() {
  rm -rf "$1"
  mkdir -p "$1"
  : >"$1/build.log"
  (cd "$1" && go mod init "netflicks.local/$2" >>"$1/build.log" 2>&1)
}

build_etcd() {
  local want=$ETCD_VERSION src=$K8S_DIR/src/etcd t0=$SECONDS
  if up_to_date "$K8S_BIN/etcd" "$want"; then log "etcd $want: cached"; return 0; fi
  log "etcd $want: building (scratch module $src)"
  scratch_module "$src" etcd
  mkdir -p "$K8S_BIN"
  # etcd's own server/go.mod has relative replace lines, so `go install` refuses it; a wrapper
  # module that calls etcdmain.Main builds the same binary (the version is a constant in api/v3).
  cat >"$src/main.go" <<'EOF'
// Generated by netflicks test/k8s/build.sh: the etcd server binary, go-gettable.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  local logfile=$src/build.log
  (cd "$src" && run_go "$logfile" get "go.etcd.io/etcd/server/v3@v$want" "go.etcd.io/etcd/api/v3@v$want")
  (cd "$src" && run_go "$logfile" mod tidy)
  (cd "$src" && run_go "$logfile" build -trimpath -ldflags "-s -w" -o "$K8S_BIN/etcd.tmp" .)
  mv -f "$K8S_BIN/etcd.tmp" "$K8S_BIN/etcd"
  up_to_date "$K8S_BIN/etcd" "$want" || die "built etcd reports '$(binary_version "$K8S_BIN/etcd")', want $want"
  log "etcd $want: built in $((SECONDS - t0))s"
}

# Kubernetes commands from k8s.io/kubernetes: build_k8s_cmds <scratch dir name> <estimate> <cmd>...
build_k8s_cmds() {
  local name=$1 estimate=$2
  shift 2
  local want=v$K8S_VERSION src=$K8S_DIR/src/$name t0=$SECONDS cmd missing=()
  for cmd in "$@"; do
    up_to_date "$K8S_BIN/$cmd" "$want" || missing+=("$cmd")
  done
  if ((${#missing[@]} == 0)); then log "kubernetes $want ($*): cached"; return 0; fi
  log "kubernetes $want: building ${missing[*]} (scratch module $src; $estimate)"
  scratch_module "$src" "$name"
  mkdir -p "$K8S_BIN"
  local logfile=$src/build.log edits=()
  # k8s.io/kubernetes' go directive and GODEBUG defaults, so runtime behaviour matches upstream builds.
  local k8s_go
  k8s_go=$(cd "$src" && go mod download -json "k8s.io/kubernetes@$want" | sed -n 's/.*"GoMod": "\([^"]*\)".*/\1/p')
  [[ -f $k8s_go ]] || die "could not fetch k8s.io/kubernetes@$want from the module proxy (see $logfile)"
  edits+=("-go=$(sed -n 's/^go //p' "$k8s_go")" "-require=k8s.io/kubernetes@$want")
  local godebug
  godebug=$(sed -n 's/^godebug //p' "$k8s_go")
  [[ -z $godebug ]] || edits+=("-godebug=$godebug")
  local m
  for m in "${STAGING[@]}"; do edits+=("-replace=k8s.io/$m=k8s.io/$m@$STAGING_VERSION"); done
  for cmd in "$@"; do edits+=("-tool=k8s.io/kubernetes/cmd/$cmd"); done
  (cd "$src" && go mod edit "${edits[@]}")
  (cd "$src" && run_go "$logfile" mod tidy)
  # The ldflags hack/lib/version.sh sets; buildDate is the tag's time, so rebuilds are reproducible.
  local date flags=() pkg
  date=$(cd "$src" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=("-X $pkg.gitVersion=$want" "-X $pkg.gitMajor=1" "-X $pkg.gitMinor=$K8S_MINOR"
      "-X $pkg.gitTreeState=clean" "-X $pkg.gitCommit=" "-X $pkg.buildDate=$date")
  done
  local tmp=$K8S_DIR/bin.$name.tmp pkgs=()
  rm -rf "$tmp"
  mkdir -p "$tmp"
  for cmd in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$cmd"); done
  (cd "$src" && run_go "$logfile" build -v -trimpath -ldflags "-s -w ${flags[*]}" -o "$tmp/" "${pkgs[@]}")
  for cmd in "${missing[@]}"; do
    mv -f "$tmp/$cmd" "$K8S_BIN/$cmd"
    up_to_date "$K8S_BIN/$cmd" "$want" || die "built $cmd reports '$(binary_version "$K8S_BIN/$cmd")', want $want"
  done
  rm -rf "$tmp"
  log "kubernetes $want: built ${missing[*]} in $((SECONDS - t0))s"
}

build_k8s() { build_k8s_cmds k8s "~10 min cold on 2 cores" "${K8S_CMDS[@]}"; }

build_node_cmds() { build_k8s_cmds k8s-node "~6-10 min cold on 2 cores, less with the control plane's GOCACHE" "${NODE_CMDS[@]}"; }

# CoreDNS with only the plugins the test cluster's Corefile uses: a main that sets the directive
# list (in plugin.cfg order: it is the chain order) and imports those plugins (CoreDNS's documented
# compile-time configuration), so the build skips the cloud-provider plugins' dependency trees.
COREDNS_PLUGINS=(reload bind ready health errors log loadbalance cache kubernetes loop forward)

build_coredns() {
  local want=$COREDNS_VERSION src=$K8S_DIR/src/coredns t0=$SECONDS p
  if up_to_date "$K8S_BIN/coredns" "$want"; then log "coredns $want: cached"; return 0; fi
  log "coredns $want: building (scratch module $src; ~2-4 min cold on 2 cores)"
  scratch_module "$src" coredns
  mkdir -p "$K8S_BIN"
  {
    echo '// Generated by netflicks test/k8s/build.sh: CoreDNS with the plugins the test cluster uses.'
    echo 'package main'
    echo
    echo 'import ('
    echo '	"github.com/coredns/coredns/core/dnsserver"'
    echo '	"github.com/coredns/coredns/coremain"'
    for p in "${COREDNS_PLUGINS[@]}"; do echo "	_ \"github.com/coredns/coredns/plugin/$p\""; done
    echo ')'
    echo
    printf 'var directives = []string{'
    for p in "${COREDNS_PLUGINS[@]}"; do printf '"%s", ' "$p"; done
    echo '}'
    echo
    echo 'func init() { dnsserver.Directives = directives }'
    echo
    echo 'func main() { coremain.Run() }'
  } >"$src/main.go"
  local logfile=$src/build.log
  (cd "$src" && run_go "$logfile" get "github.com/coredns/coredns@v$want")
  (cd "$src" && run_go "$logfile" mod tidy)
  (cd "$src" && run_go "$logfile" build -v -trimpath -ldflags "-s -w" -o "$K8S_BIN/coredns.tmp" .)
  mv -f "$K8S_BIN/coredns.tmp" "$K8S_BIN/coredns"
  up_to_date "$K8S_BIN/coredns" "$want" || die "built coredns reports '$(binary_version "$K8S_BIN/coredns")', want $want"
  log "coredns $want: built in $((SECONDS - t0))s"
}

build_helm() {
  local want=v$HELM_VERSION src=$HELM_DIR/src t0=$SECONDS
  if up_to_date "$HELM_BIN/helm" "$want"; then log "helm $want: cached"; return 0; fi
  log "helm $want: building (scratch module $src)"
  scratch_module "$src" helm
  mkdir -p "$HELM_BIN"
  local logfile=$src/build.log
  (cd "$src" && run_go "$logfile" get -tool "helm.sh/helm/v3/cmd/helm@$want")
  (cd "$src" && run_go "$logfile" mod tidy)
  # As helm's Makefile: its version, and the Kubernetes version it assumes (client-go 0.x -> 1.x).
  local kv
  kv=$(cd "$src" && go list -m -f '{{.Version}}' k8s.io/client-go)
  kv=${kv#v0.}
  local kminor=${kv%%.*} p=helm.sh/helm/v3
  local ldflags="-s -w -X $p/internal/version.version=$want -X $p/internal/version.gitTreeState=clean"
  ldflags+=" -X $p/pkg/lint/rules.k8sVersionMajor=1 -X $p/pkg/lint/rules.k8sVersionMinor=$kminor"
  ldflags+=" -X $p/pkg/chartutil.k8sVersionMajor=1 -X $p/pkg/chartutil.k8sVersionMinor=$kminor"
  (cd "$src" && run_go "$logfile" build -trimpath -ldflags "$ldflags" -o "$HELM_BIN/helm.tmp" helm.sh/helm/v3/cmd/helm)
  mv -f "$HELM_BIN/helm.tmp" "$HELM_BIN/helm"
  up_to_date "$HELM_BIN/helm" "$want" || die "built helm reports '$(binary_version "$HELM_BIN/helm")', want $want"
  log "helm $want: built in $((SECONDS - t0))s"
}

# metrics-server (resource metrics for HPAs) from its own module, its version set as its Makefile does.
build_metrics_server() {
  local want=v$METRICS_SERVER_VERSION src=$K8S_DIR/src/metrics-server t0=$SECONDS
  if up_to_date "$K8S_BIN/metrics-server" "$METRICS_SERVER_VERSION"; then log "metrics-server $want: cached"; return 0; fi
  log "metrics-server $want: building (scratch module $src; ~4-6 min cold on 2 cores: its own k8s.io libraries)"
  scratch_module "$src" metrics-server
  mkdir -p "$K8S_BIN"
  local logfile=$src/build.log p=k8s.io/client-go/pkg/version
  (cd "$src" && run_go "$logfile" get -tool "sigs.k8s.io/metrics-server/cmd/metrics-server@$want")
  (cd "$src" && run_go "$logfile" mod tidy)
  (cd "$src" && run_go "$logfile" build -v -trimpath -ldflags "-s -w -X $p.gitVersion=$want -X $p.gitTreeState=clean" -o "$K8S_BIN/metrics-server.tmp" sigs.k8s.io/metrics-server/cmd/metrics-server)
  mv -f "$K8S_BIN/metrics-server.tmp" "$K8S_BIN/metrics-server"
  up_to_date "$K8S_BIN/metrics-server" "$METRICS_SERVER_VERSION" || die "built metrics-server reports '$(binary_version "$K8S_BIN/metrics-server")', want $want"
  log "metrics-server $want: built in $((SECONDS - t0))s"
}

build_skaffold() {
  local want=v$SKAFFOLD_VERSION src=$SKAFFOLD_DIR/src t0=$SECONDS mod=github.com/GoogleContainerTools/skaffold/v2
  if up_to_date "$SKAFFOLD_BIN/skaffold" "$want"; then log "skaffold $want: cached"; return 0; fi
  log "skaffold $want: building (scratch module $src; ~15 min cold on 2 cores: ~1,900 packages, cloud SDKs and docker libraries)"
  scratch_module "$src" skaffold
  mkdir -p "$SKAFFOLD_BIN"
  local logfile=$src/build.log
  # skaffold's go.mod excludes versions its code does not build with; excludes only apply in the
  # main module, so the scratch module repeats them.
  local sk_go edits=()
  sk_go=$(cd "$src" && go mod download -json "$mod@$want" | sed -n 's/.*"GoMod": "\([^"]*\)".*/\1/p')
  [[ -f $sk_go ]] || die "could not fetch $mod@$want from the module proxy (see $logfile)"
  while read -r path version; do
    edits+=("-exclude=$path@$version")
  done < <(awk '/^exclude \($/ {b=1; next} b && /^\)/ {b=0; next} b && NF>=2 && $1 !~ /^\/\// {print $1, $2} /^exclude [^(]/ {print $2, $3}' "$sk_go")
  # vbom.ml is gone and the proxy refuses that old module (an old k8s.io/kubectl in the graph still
  # names it): its GitHub home, same commit, stands in.
  local vbom=v0.0.0-20160121211510-db5cfe13f5cc
  edits+=("-replace=vbom.ml/util@$vbom=github.com/fvbommel/util@$vbom")
  (cd "$src" && go mod edit "${edits[@]}")
  (cd "$src" && run_go "$logfile" get -tool "$mod/cmd/skaffold@$want")
  # Its golang.org/x/tools (for ko) fails to compile with Go >= 1.25 (internal/tokeninternal sizes
  # go/token's structs); v0.34.0 is the first without that check.
  (cd "$src" && run_go "$logfile" get golang.org/x/tools@v0.34.0)
  (cd "$src" && run_go "$logfile" mod tidy)
  # As skaffold's Makefile for linux: its version variables and build tags (buildDate is the tag's time).
  local date p=$mod/pkg/skaffold/version
  date=$(cd "$src" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "$mod")
  (cd "$src" && run_go "$logfile" build -v -trimpath -tags "timetzdata osusergo netgo static_build release" \
    -ldflags "-s -w -X $p.version=$want -X $p.buildDate=$date" -o "$SKAFFOLD_BIN/skaffold.tmp" "$mod/cmd/skaffold")
  mv -f "$SKAFFOLD_BIN/skaffold.tmp" "$SKAFFOLD_BIN/skaffold"
  up_to_date "$SKAFFOLD_BIN/skaffold" "$want" || die "built skaffold reports '$(binary_version "$SKAFFOLD_BIN/skaffold")', want $want"
  log "skaffold $want: built in $((SECONDS - t0))s"
}

with_lock() {
  mkdir -p "$CACHE_ROOT"
  # Two `up`s at once (parallel jest workers, a developer and CI) must not build into the same dirs.
  exec 8>"$CACHE_ROOT/${BUILD_LOCK:-.k8s-build.lock}"
  flock 8
  "$@"
  exec 8>&-
}

build_all_k8s() { build_etcd; build_k8s; }

build_node() { build_node_cmds; build_coredns; build_metrics_server; }

main() {
  local what=${1:-all} t0=$SECONDS
  case $what in
    paths) echo "K8S_BIN=$K8S_BIN"; echo "HELM_BIN=$HELM_BIN"; echo "SKAFFOLD_BIN=$SKAFFOLD_BIN"; return 0 ;;
    k8s | node | helm | skaffold | all) ;;
    *) echo "usage: $0 [all|k8s|node|helm|skaffold|paths]" >&2; exit 2 ;;
  esac
  command -v go >/dev/null || die "go not found (Go >= 1.26 is needed to build the control plane)"
  case $what in
    k8s) with_lock build_all_k8s ;;
    node) with_lock build_node ;;
    helm) with_lock build_helm ;;
    # Its own lock: a long skaffold build must not hold up a cluster:up that needs nothing built.
    skaffold) BUILD_LOCK=.skaffold-build.lock with_lock build_skaffold ;;
    all) with_lock build_all_k8s; with_lock build_node; with_lock build_helm ;;
  esac
  log "done in $((SECONDS - t0))s (bin dirs: $K8S_BIN $HELM_BIN $SKAFFOLD_BIN)"
}

main "$@"
