#!/usr/bin/env bash
# Deletes the kind cluster scripts/kind-up.sh made (npm run kind:down).
set -euo pipefail
kind delete cluster --name "${KIND_CLUSTER:-netflicks}"
