#!/usr/bin/env bash
# A real MLflow tracking server for local runs and CI: MLflow from PyPI in a cached virtual
# environment, `mlflow server` on loopback with a SQLite backend store and the artifact proxy.
#
#   test/mlflow/mlflow.sh install   create the venv and pip install MLflow (first run only)
#   test/mlflow/mlflow.sh up        install if needed, start, wait until /health answers
#   test/mlflow/mlflow.sh down      stop cleanly (SIGTERM, SIGKILL after MLFLOW_STOP_TIMEOUT seconds)
#   test/mlflow/mlflow.sh status    exit 0 if running, 3 if not
#   test/mlflow/mlflow.sh logs [-f|N]   tail the server log
#   test/mlflow/mlflow.sh purge     stop and delete the server's store and artifacts (venv stays cached)
#   test/mlflow/mlflow.sh python    print the venv's python (tests drive MLflow's Python client with it)
#
# Environment:
#   MLFLOW_VERSION         pinned default below; the venv is per version
#   MLFLOW_PORT            listener on 127.0.0.1, default 15000
#   NETFLICKS_CACHE        cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/netflicks);
#                          the venv lives in $NETFLICKS_CACHE/mlflow/<version>/venv
#   MLFLOW_RUN_DIR         store, artifacts, pid and log (default ${TMPDIR:-/tmp}/netflicks-mlflow-<port>)
#   MLFLOW_START_TIMEOUT   seconds `up` waits for /health, default 120
#   MLFLOW_STOP_TIMEOUT    seconds `down` waits before SIGKILL, default 20
#   PYTHON                 interpreter that creates the venv (default python3; needs >= 3.10)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MLFLOW_VERSION=${MLFLOW_VERSION:-3.17.2}
MLFLOW_PORT=${MLFLOW_PORT:-15000}
CACHE_ROOT=${NETFLICKS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netflicks}
DIST_DIR=$CACHE_ROOT/mlflow/$MLFLOW_VERSION
VENV=$DIST_DIR/venv
RUN_DIR=${MLFLOW_RUN_DIR:-${TMPDIR:-/tmp}/netflicks-mlflow-$MLFLOW_PORT}
PID_FILE=$RUN_DIR/mlflow.pid
VERSION_FILE=$RUN_DIR/mlflow.version
LOG_FILE=$RUN_DIR/mlflow.log
START_TIMEOUT=${MLFLOW_START_TIMEOUT:-120}
STOP_TIMEOUT=${MLFLOW_STOP_TIMEOUT:-20}
PYTHON=${PYTHON:-python3}
# The server is a process group (mlflow's CLI, uvicorn/gunicorn and its workers): signal the group.
SERVICE_SCRIPT=mlflow.sh SERVICE_PRODUCT=MLflow SERVICE_VERSION=$MLFLOW_VERSION SERVICE_NOUN=server
SERVICE_PORT=$MLFLOW_PORT SERVICE_ADDRESS=http://127.0.0.1:$MLFLOW_PORT SERVICE_PROCESS=mlflow
SERVICE_READY=healthy SERVICE_POLL=0.5 SERVICE_SIGNAL_GROUP=1
# shellcheck source=test/lib/service.sh
source "$SCRIPT_DIR/../lib/service.sh"

if ! [[ $MLFLOW_PORT =~ ^[0-9]+$ ]] || ((MLFLOW_PORT < 1 || MLFLOW_PORT > 65535)); then
  die "MLFLOW_PORT must be a port number, got '$MLFLOW_PORT'"
fi

healthy() {
  # /health answers "OK" once the app (and its database migrations) is up.
  [[ $(timeout 3 "$VENV/bin/python" -c "
import sys, urllib.request
try:
    print(urllib.request.urlopen('http://127.0.0.1:$MLFLOW_PORT/health', timeout=2).read().decode())
except Exception:
    sys.exit(1)
" 2>/dev/null) == OK* ]]
}

# Creates the venv and installs MLflow once; later runs see .complete and skip pip.
ensure_venv() { cache_once "$VENV/.complete" "$DIST_DIR" install_venv; }

install_venv() {
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found: needed once to create the MLflow venv (Python >= 3.10)"
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || die "MLflow $MLFLOW_VERSION needs Python >= 3.10 ($PYTHON is $("$PYTHON" --version 2>&1))"
  local t0=$SECONDS pip_log=$DIST_DIR/pip.log
  log "installing mlflow==$MLFLOW_VERSION from PyPI into $VENV (first run only)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "could not create a venv with $PYTHON (Debian: apt-get install python3-venv)"
  : >"$pip_log"
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q "mlflow==$MLFLOW_VERSION" >>"$pip_log" 2>&1; then
    tail -n 30 "$pip_log" >&2
    die "pip could not install mlflow==$MLFLOW_VERSION (log: $pip_log)"
  fi
  "$VENV/bin/mlflow" --version >>"$pip_log" 2>&1 || die "mlflow installed but does not run (log: $pip_log)"
  touch "$VENV/.complete"
  log "installed mlflow==$MLFLOW_VERSION in $((SECONDS - t0))s ($(du -sm "$VENV" | cut -f1) MB)"
}

service_ready() { port_open "$MLFLOW_PORT" && healthy; }

status_details() {
  local ready=no
  healthy && ready=yes
  echo "url=http://127.0.0.1:$MLFLOW_PORT healthy=$ready"
}

cache_state() { echo "venv=$([[ -f $VENV/.complete ]] && echo installed || echo 'not installed')"; }

cmd_install() {
  ensure_venv
  log "mlflow==$MLFLOW_VERSION installed in $VENV"
}

cmd_up() {
  begin_up || return 0
  local t0=$SECONDS
  ensure_venv
  local t1=$SECONDS
  mkdir -p "$RUN_DIR/artifacts"
  [[ -f $LOG_FILE ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
  : >"$LOG_FILE"
  # One worker: the tests are the only client and the machine's cores are shared.
  launch "$VENV/bin/mlflow" server --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
    --backend-store-uri "sqlite:///$RUN_DIR/mlflow.db" \
    --serve-artifacts --artifacts-destination "$RUN_DIR/artifacts"
  local pid
  pid=$(<"$PID_FILE")
  wait_ready "$pid" "$t1" || exit 1
  log "MLflow $MLFLOW_VERSION ready on http://127.0.0.1:$MLFLOW_PORT (pid $pid; install $((t1 - t0))s, start $((SECONDS - t1))s)"
}

cmd_python() {
  [[ -f $VENV/.complete ]] || die "MLflow $MLFLOW_VERSION is not installed; run test/mlflow/mlflow.sh install"
  echo "$VENV/bin/python"
}

case "${1:-}" in
  install) cmd_install ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  logs) shift; cmd_logs "$@" ;;
  purge) cmd_purge ;;
  python) cmd_python ;;
  *) echo "usage: $0 install|up|down|status|logs [-f|N]|purge|python" >&2; exit 2 ;;
esac
