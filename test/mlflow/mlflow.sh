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

log() { echo "mlflow.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

if ! [[ $MLFLOW_PORT =~ ^[0-9]+$ ]] || ((MLFLOW_PORT < 1 || MLFLOW_PORT > 65535)); then
  die "MLFLOW_PORT must be a port number, got '$MLFLOW_PORT'"
fi

# Prints the server's pid if our pid file names a live process started from our venv (guards against pid reuse).
running_pid() {
  [[ -f $PID_FILE ]] || return 1
  local pid
  pid=$(<"$PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'mlflow' || return 1
  echo "$pid"
}

port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

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
ensure_venv() {
  [[ -f $VENV/.complete ]] && return 0
  mkdir -p "$DIST_DIR"
  exec 8>"$DIST_DIR/.lock"
  flock 8
  if [[ -f $VENV/.complete ]]; then exec 8>&-; return 0; fi
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
  exec 8>&-
}

wait_ready() {
  local pid=$1 t0=$2
  while ((SECONDS - t0 < START_TIMEOUT)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "server exited during start-up; last lines of $LOG_FILE:"
      tail -n 40 "$LOG_FILE" >&2
      rm -f "$PID_FILE"
      return 1
    fi
    if port_open "$MLFLOW_PORT" && healthy; then return 0; fi
    sleep 0.5
  done
  log "server not healthy on 127.0.0.1:$MLFLOW_PORT after ${START_TIMEOUT}s; last lines of $LOG_FILE:"
  tail -n 40 "$LOG_FILE" >&2
  stop_pid "$pid"
  return 1
}

# The server is a process group (mlflow's CLI, uvicorn/gunicorn and its workers): signal the group.
stop_pid() {
  local pid=$1 t0=$SECONDS
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS - t0 >= STOP_TIMEOUT)); then
      log "server did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
}

cmd_install() {
  ensure_venv
  log "mlflow==$MLFLOW_VERSION installed in $VENV"
}

cmd_up() {
  mkdir -p "$RUN_DIR"
  # Serialise concurrent `up`s (parallel test workers): the second one finds the server running.
  exec 9>"$RUN_DIR/.lock"
  flock 9
  local pid
  if pid=$(running_pid); then
    local v
    v=$(cat "$VERSION_FILE" 2>/dev/null || echo unknown)
    [[ $v == "$MLFLOW_VERSION" ]] || log "warning: running server is MLflow $v, not $MLFLOW_VERSION"
    log "already running (pid $pid, MLflow $v, http://127.0.0.1:$MLFLOW_PORT)"
    return 0
  fi
  rm -f "$PID_FILE"
  if port_open "$MLFLOW_PORT"; then die "127.0.0.1:$MLFLOW_PORT is in use by a process this script did not start"; fi
  local t0=$SECONDS
  ensure_venv
  local t1=$SECONDS
  mkdir -p "$RUN_DIR/artifacts"
  [[ -f $LOG_FILE ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
  : >"$LOG_FILE"
  # One worker: the tests are the only client and the machine's cores are shared.
  # setsid + full redirection: the server outlives the caller and never holds its stdout pipe
  # nor the lock fds (see kafka.sh).
  # shellcheck disable=SC2016 # $$ expands in the child
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
    "$VENV/bin/mlflow" server --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
    --backend-store-uri "sqlite:///$RUN_DIR/mlflow.db" \
    --serve-artifacts --artifacts-destination "$RUN_DIR/artifacts" \
    </dev/null >>"$LOG_FILE" 2>&1 8>&- 9>&- &
  local waited=0
  while [[ ! -s $PID_FILE ]] && ((waited < 50)); do sleep 0.1; waited=$((waited + 1)); done
  pid=$(<"$PID_FILE")
  echo "$MLFLOW_VERSION" >"$VERSION_FILE"
  wait_ready "$pid" "$t1" || exit 1
  log "MLflow $MLFLOW_VERSION ready on http://127.0.0.1:$MLFLOW_PORT (pid $pid; install $((t1 - t0))s, start $((SECONDS - t1))s)"
}

cmd_down() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  stop_pid "$pid"
  log "stopped (pid $pid)"
}

cmd_status() {
  local pid
  if pid=$(running_pid); then
    local ready=no
    healthy && ready=yes
    echo "running pid=$pid version=$(cat "$VERSION_FILE" 2>/dev/null || echo unknown) url=http://127.0.0.1:$MLFLOW_PORT healthy=$ready run_dir=$RUN_DIR"
    return 0
  fi
  echo "stopped (run_dir=$RUN_DIR, venv=$([[ -f $VENV/.complete ]] && echo installed || echo 'not installed'))"
  return 3
}

cmd_logs() {
  [[ -f $LOG_FILE ]] || die "no log at $LOG_FILE"
  case "${1:-200}" in
    -f) tail -n 200 -F "$LOG_FILE" ;;
    *[!0-9]*) die "usage: mlflow.sh logs [-f|LINES]" ;;
    *) tail -n "${1:-200}" "$LOG_FILE" ;;
  esac
}

cmd_purge() {
  cmd_down
  rm -rf "$RUN_DIR"
  log "removed $RUN_DIR"
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
