#!/bin/bash
# kafka-run-class.sh CLASS ARGS...: runs a Kafka main class with the jars in $KAFKA_HOME/libs.
# Honours the upstream variables: KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_OPTS,
# KAFKA_LOG4J_OPTS, LOG_DIR (GC and file logs; the image logs to stdout).
set -euo pipefail
home=${KAFKA_HOME:-/opt/kafka}
log_dir=${LOG_DIR:-/tmp/kafka-logs}
mkdir -p "$log_dir"
# shellcheck disable=SC2086 # the *_OPTS variables are word lists
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} \
  ${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true} \
  ${KAFKA_LOG4J_OPTS:--Dlog4j.configuration=file:$home/config/log4j.properties} \
  -Dkafka.logs.dir="$log_dir" ${KAFKA_OPTS:-} \
  -cp "$home/libs/*" "$@"
