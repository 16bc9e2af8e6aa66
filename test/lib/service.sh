# shellcheck shell=bash
# The lifecycle a local test service shares (test/kafka/kafka.sh, test/mlflow/mlflow.sh): one
# detached process per run dir, found again through a pid file, started under a lock, stopped with
# SIGTERM then SIGKILL. Sourced, not run. The sourcing script sets, before calling anything here:
#   SERVICE_SCRIPT   name in messages (kafka.sh)
#   SERVICE_PRODUCT  product in messages (Kafka)          SERVICE_VERSION  version it starts
#   SERVICE_NOUN     what runs (broker, server)           SERVICE_PORT     its port on 127.0.0.1
#   SERVICE_ADDRESS  how messages name where it listens   SERVICE_PROCESS  regex its command line matches
#   SERVICE_READY    word for "ready" in the start-up timeout message
#   SERVICE_POLL     seconds between readiness checks
#   SERVICE_SIGNAL_GROUP  1: signal the process group (the service forks workers), 0: the pid
#   RUN_DIR PID_FILE VERSION_FILE LOG_FILE START_TIMEOUT STOP_TIMEOUT
#   UP_WAIT          optional: seconds `down` waits for an `up` in progress
# and defines: service_ready (0 once it serves), status_details (status fields of a running
# service), cache_state (status field of a stopped one).

log() { echo "$SERVICE_SCRIPT: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Prints the pid if our pid file names a live process of this service (guards against pid reuse).
running_pid() {
  [[ -f $PID_FILE ]] || return 1
  local pid
  pid=$(<"$PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$SERVICE_PROCESS" || return 1
  echo "$pid"
}

port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Runs "$@" (which fills DIR and touches MARKER) unless MARKER exists; the lock on DIR keeps
# concurrent first runs from installing into the same directory.
cache_once() {
  local marker=$1 dir=$2
  shift 2
  [[ -f $marker ]] && return 0
  mkdir -p "$dir"
  exec 8>"$dir/.lock"
  flock 8
  [[ -f $marker ]] || "$@"
  exec 8>&-
}

# Takes the `up` lock (serialises parallel test workers: the second finds the service running).
# Returns 1 if the service already runs, dies if another process holds its port.
begin_up() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock 9
  local pid
  if pid=$(running_pid); then
    local v
    v=$(cat "$VERSION_FILE" 2>/dev/null || echo unknown)
    [[ $v == "$SERVICE_VERSION" ]] || log "warning: running $SERVICE_NOUN is $SERVICE_PRODUCT $v, not $SERVICE_VERSION"
    log "already running (pid $pid, $SERVICE_PRODUCT $v, $SERVICE_ADDRESS)"
    return 1
  fi
  rm -f "$PID_FILE"
  if port_open "$SERVICE_PORT"; then die "127.0.0.1:$SERVICE_PORT is in use by a process this script did not start"; fi
}

# Starts "$@" in its own session, logging to LOG_FILE, and waits for its pid file. setsid + full
# redirection: the service outlives the caller and never holds its stdout pipe (a test runner
# waiting on `up` would otherwise hang until the service exits), nor the lock fds (a later `up`
# would block on flock for the service's lifetime).
launch() {
  # shellcheck disable=SC2016 # $$ expands in the child
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" "$@" </dev/null >>"$LOG_FILE" 2>&1 8>&- 9>&- &
  local waited=0
  while [[ ! -s $PID_FILE ]] && ((waited < 50)); do sleep 0.1; waited=$((waited + 1)); done
  echo "$SERVICE_VERSION" >"$VERSION_FILE"
}

wait_ready() {
  local pid=$1 t0=$2
  while ((SECONDS - t0 < START_TIMEOUT)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$SERVICE_NOUN exited during start-up; last lines of $LOG_FILE:"
      tail -n 40 "$LOG_FILE" >&2
      rm -f "$PID_FILE"
      return 1
    fi
    if service_ready; then return 0; fi
    sleep "$SERVICE_POLL"
  done
  log "$SERVICE_NOUN not $SERVICE_READY on 127.0.0.1:$SERVICE_PORT after ${START_TIMEOUT}s; last lines of $LOG_FILE:"
  tail -n 40 "$LOG_FILE" >&2
  stop_pid "$pid"
  return 1
}

signal() {
  local sig=$1 pid=$2
  if [[ $SERVICE_SIGNAL_GROUP == 1 ]]; then
    kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null || true
  else
    kill "-$sig" "$pid" 2>/dev/null || true
  fi
}

stop_pid() {
  local pid=$1 t0=$SECONDS
  signal TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS - t0 >= STOP_TIMEOUT)); then
      log "$SERVICE_NOUN did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
      signal KILL "$pid"
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
}

cmd_down() {
  local pid
  # An `up` in progress holds the lock until its service is ready: wait for it, then stop that one.
  if [[ -n ${UP_WAIT:-} && -d $RUN_DIR ]]; then
    exec 9>"$RUN_DIR/.lock"
    flock -w "$UP_WAIT" 9 || log "warning: an 'up' still holds $RUN_DIR/.lock after ${UP_WAIT}s; stopping what runs now"
  fi
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
    echo "running pid=$pid version=$(cat "$VERSION_FILE" 2>/dev/null || echo unknown) $(status_details) run_dir=$RUN_DIR"
    return 0
  fi
  echo "stopped (run_dir=$RUN_DIR, $(cache_state))"
  return 3
}

cmd_logs() {
  [[ -f $LOG_FILE ]] || die "no log at $LOG_FILE"
  case "${1:-200}" in
    -f) tail -n 200 -F "$LOG_FILE" ;;
    *[!0-9]*) die "usage: $SERVICE_SCRIPT logs [-f|LINES]" ;;
    *) tail -n "${1:-200}" "$LOG_FILE" ;;
  esac
}

cmd_purge() {
  cmd_down
  rm -rf "$RUN_DIR"
  log "removed $RUN_DIR"
}
