#!/usr/bin/env bash
# Single-node KRaft Apache Kafka broker for local runs and CI, built from Maven Central jars.
#
#   test/kafka/kafka.sh up       resolve jars (first run only), format storage, start, wait until ready
#   test/kafka/kafka.sh down     stop cleanly (SIGTERM, SIGKILL after KAFKA_STOP_TIMEOUT seconds)
#   test/kafka/kafka.sh status   exit 0 if running, 3 if not
#   test/kafka/kafka.sh logs [-f|N]   tail the broker log
#   test/kafka/kafka.sh purge    stop and delete the broker's data (jars stay cached)
#   test/kafka/kafka.sh libs     resolve the jars (first run only) and print their directory
#
# Environment:
#   KAFKA_VERSION          default 3.9.2; 4.x works too (4.4.0 passes the platform Kafka tests)
#   KAFKA_PORT             client listener on 127.0.0.1, default 9092
#   KAFKA_CONTROLLER_PORT  KRaft controller listener, default KAFKA_PORT+1
#   NETFLICKS_CACHE        cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/netflicks);
#                          jars live in $NETFLICKS_CACHE/kafka/<version>/libs
#   KAFKA_RUN_DIR          data, config, pid and log (default ${TMPDIR:-/tmp}/netflicks-kafka-<port>)
#   KAFKA_START_TIMEOUT    seconds `up` waits for readiness, default 60
#   KAFKA_STOP_TIMEOUT     seconds `down` waits after SIGTERM before SIGKILL, default 30
#   KAFKA_UP_WAIT          seconds `down` waits for an `up` in progress, default 60
#   KAFKA_HEAP_OPTS        default "-Xms256m -Xmx512m"
#   KAFKA_JVM_OPTS         default "-XX:TieredStopAtLevel=1" (faster start); "" for none
#   JAVA_HOME, MVN         java and maven to use
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAFKA_VERSION=${KAFKA_VERSION:-3.9.2}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
CACHE_ROOT=${NETFLICKS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netflicks}
DIST_DIR=$CACHE_ROOT/kafka/$KAFKA_VERSION
LIBS=$DIST_DIR/libs
RUN_DIR=${KAFKA_RUN_DIR:-${TMPDIR:-/tmp}/netflicks-kafka-$KAFKA_PORT}
# Per-version data dir: a 3.9 log dir is not something to hand a 4.x broker (or back) silently.
DATA_DIR=$RUN_DIR/data-$KAFKA_VERSION
PID_FILE=$RUN_DIR/kafka.pid
VERSION_FILE=$RUN_DIR/kafka.version
LOG_FILE=$RUN_DIR/kafka.log
CONFIG_FILE=$RUN_DIR/server.properties
START_TIMEOUT=${KAFKA_START_TIMEOUT:-60}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
# How long `down` waits for an `up` still in progress (resolving jars, starting).
UP_WAIT=${KAFKA_UP_WAIT:-60}
HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
# C1 only: ~1.5 s faster start on 2 cores; a test broker never runs long enough to need C2.
# Set KAFKA_JVM_OPTS="" to get the default JIT.
JVM_OPTS=${KAFKA_JVM_OPTS--XX:TieredStopAtLevel=1}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
MVN=${MVN:-mvn}
MAJOR=${KAFKA_VERSION%%.*}
SERVICE_SCRIPT=kafka.sh SERVICE_PRODUCT=Kafka SERVICE_VERSION=$KAFKA_VERSION SERVICE_NOUN=broker
SERVICE_PORT=$KAFKA_PORT SERVICE_ADDRESS=127.0.0.1:$KAFKA_PORT SERVICE_PROCESS='kafka\.Kafka'
SERVICE_READY=ready SERVICE_POLL=0.25 SERVICE_SIGNAL_GROUP=0
# shellcheck source=test/lib/service.sh
source "$SCRIPT_DIR/../lib/service.sh"

if [[ $MAJOR -ge 4 ]]; then
  LOG_OPTS=(-Dlog4j2.configurationFile="$SCRIPT_DIR/log4j2.properties")
else
  LOG_OPTS=(-Dlog4j.configuration="file:$SCRIPT_DIR/log4j.properties")
fi

check_java() {
  command -v "$JAVA" >/dev/null || die "java not found (install JDK 17 or set JAVA_HOME)"
  local v
  v=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  if [[ $MAJOR -ge 4 && ${v:-0} -lt 17 ]]; then die "Kafka $KAFKA_VERSION needs Java 17+, found ${v:-unknown}"; fi
}

# Maven output goes to a log (Debian's mvn prints colour codes even with -q); shown on failure.
run_mvn() {
  local log=$1
  shift
  if ! "$MVN" "$@" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    return 1
  fi
}

# Resolves the broker's runtime classpath into the cache once; later runs see .complete and skip maven.
ensure_libs() { cache_once "$LIBS/.complete" "$DIST_DIR" resolve_libs; }

resolve_libs() {
  command -v "$MVN" >/dev/null || die "mvn not found: needed once to fetch Kafka $KAFKA_VERSION jars"
  local t0=$SECONDS build=$DIST_DIR/build tmp=$DIST_DIR/libs.tmp
  log "resolving Kafka $KAFKA_VERSION from Maven Central into $LIBS (first run only)"
  rm -rf "$build" "$tmp"
  mkdir -p "$build"
  cp "$SCRIPT_DIR/pom.xml" "$build/pom.xml"
  local mvn_args=(-B -q -Dstyle.color=never -f "$build/pom.xml" dependency:copy-dependencies
    -Dkafka.version="$KAFKA_VERSION" -DincludeScope=runtime -DoutputDirectory="$tmp")
  local mvn_log=$DIST_DIR/maven.log
  : >"$mvn_log"
  if [[ $MAJOR -ge 4 ]]; then
    run_mvn "$mvn_log" "${mvn_args[@]}" -Dkafka4 || die "maven could not resolve kafka_2.13:$KAFKA_VERSION (see above)"
    local core log4j2
    core=$(find "$tmp" -maxdepth 1 -name 'log4j-core-*.jar' -printf '%f\n' | head -n1)
    log4j2=${core#log4j-core-}
    log4j2=${log4j2%.jar}
    [[ -n $log4j2 ]] || die "no log4j-core among Kafka $KAFKA_VERSION's dependencies; cannot pick the slf4j binding"
    run_mvn "$mvn_log" "${mvn_args[@]}" -Dkafka4 -Dlog4j2.version="$log4j2" || die "maven could not resolve log4j-slf4j-impl:$log4j2 (see above)"
  else
    run_mvn "$mvn_log" "${mvn_args[@]}" || die "maven could not resolve kafka_2.13:$KAFKA_VERSION (see above)"
  fi
  [[ -f $tmp/kafka_2.13-$KAFKA_VERSION.jar ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing after resolve"
  rm -rf "$LIBS" "$build"
  mv "$tmp" "$LIBS"
  touch "$LIBS/.complete"
  log "resolved $(find "$LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - t0))s"
}

write_config() {
  mkdir -p "$RUN_DIR" "$DATA_DIR"
  sed -e "s|@PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@DATA_DIR@|$DATA_DIR|g" "$SCRIPT_DIR/server.properties" >"$CONFIG_FILE"
}

# KRaft refuses to start on an unformatted log dir. The cluster id is 16 random bytes in
# base64url without padding (what `StorageTool random-uuid` prints); generating it here saves a JVM start.
format_storage() {
  [[ -f $DATA_DIR/meta.properties ]] && return 0
  local id
  id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  "$JAVA" "${LOG_OPTS[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format -t "$id" -c "$CONFIG_FILE" --ignore-formatted \
    >>"$LOG_FILE" 2>&1 || { tail -n 30 "$LOG_FILE" >&2; die "storage format failed"; }
}

# Listening is not enough: the socket is bound before the broker has caught up with the metadata
# log. "Kafka Server started" is logged once it serves requests (3.x and 4.x).
service_ready() { grep -q 'Kafka Server started' "$LOG_FILE" && port_open "$KAFKA_PORT"; }

status_details() {
  local ready=no
  port_open "$KAFKA_PORT" && ready=yes
  echo "listener=127.0.0.1:$KAFKA_PORT accepting=$ready"
}

cache_state() { echo "libs=$([[ -f $LIBS/.complete ]] && echo cached || echo 'not cached')"; }

cmd_up() {
  begin_up || return 0
  if port_open "$KAFKA_CONTROLLER_PORT"; then die "controller port 127.0.0.1:$KAFKA_CONTROLLER_PORT is in use"; fi
  check_java
  local t0=$SECONDS
  ensure_libs
  local t1=$SECONDS
  write_config
  [[ -f $LOG_FILE ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
  : >"$LOG_FILE"
  format_storage
  # shellcheck disable=SC2086 # HEAP_OPTS/JVM_OPTS are word lists
  launch "$JAVA" $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    $JVM_OPTS "${LOG_OPTS[@]}" -Dkafka.logs.dir="$RUN_DIR" \
    -cp "$LIBS/*" kafka.Kafka "$CONFIG_FILE"
  local pid
  pid=$(<"$PID_FILE")
  wait_ready "$pid" "$t1" || exit 1
  log "Kafka $KAFKA_VERSION ready on 127.0.0.1:$KAFKA_PORT (pid $pid; resolve $((t1 - t0))s, start $((SECONDS - t1))s)"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  logs) shift; cmd_logs "$@" ;;
  purge) cmd_purge ;;
  libs) ensure_libs && echo "$LIBS" ;;
  *) echo "usage: $0 up|down|status|logs [-f|N]|purge|libs" >&2; exit 2 ;;
esac
