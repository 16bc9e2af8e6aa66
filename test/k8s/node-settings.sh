# shellcheck shell=bash
# The node's paths and names, shared by node.sh and netpol.sh (sourced).
# shellcheck disable=SC2034 # used by the scripts that source this
DIR=${NETFLICKS_NODE_DIR:-${TMPDIR:-/tmp}/netflicks-node}
K8S_DIR_STATE=${NETFLICKS_K8S_DIR:-${TMPDIR:-/tmp}/netflicks-k8s}
KC=$K8S_DIR_STATE/kubeconfig
CACHE_ROOT=${NETFLICKS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netflicks}
NODE_NAME=${K8S_NODE_NAME:-netflicks-node}
POD_CIDR=10.244.0.0/24
