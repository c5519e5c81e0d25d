#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft, combined broker+controller) built from Maven Central
# artifacts (infra/kafka/pom.xml). No Docker, no tarball download.
#
#   bash scripts/kafka.sh start            start (or report already running), wait until clients are accepted
#   bash scripts/kafka.sh stop [--clean]   stop (SIGTERM, then SIGKILL after 30 s); --clean also deletes the data
#   bash scripts/kafka.sh clean            same as stop --clean
#   bash scripts/kafka.sh status           exit 0 if running, 3 if not
#   bash scripts/kafka.sh logs [-f] [N]    last N (default 100) lines of the broker log, -f to follow
#
# Environment:
#   KAFKA_HOME_DIR         cache + state root           (default <repo>/.kafka)
#   KAFKA_STATE_DIR        config, pid, log, data       (default $KAFKA_HOME_DIR/state)
#   KAFKA_PORT             client listener port         (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port        (default 9093)
#   KAFKA_START_TIMEOUT    seconds to wait for readiness (default 90)
#   KAFKA_HEAP_OPTS        JVM heap                     (default -Xms256m -Xmx512m)
#   KAFKA_JVM_OPTS         extra JVM options            (default empty)
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$REPO_DIR/infra/kafka/pom.xml"
LOG4J_CONF="$REPO_DIR/infra/kafka/log4j.properties"
WAIT_JS="$REPO_DIR/scripts/kafka-wait.js"

HOME_DIR="${KAFKA_HOME_DIR:-$REPO_DIR/.kafka}"
LIB_DIR="$HOME_DIR/lib"
STATE_DIR="${KAFKA_STATE_DIR:-$HOME_DIR/state}"
DATA_DIR="$STATE_DIR/data"
PROPS="$STATE_DIR/server.properties"
PID_FILE="$STATE_DIR/kafka.pid"
LOG_FILE="$STATE_DIR/kafka.log"
CLUSTER_ID_FILE="$STATE_DIR/cluster.id"

PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
HOST=127.0.0.1
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT=30
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
BROKERS="$HOST:$PORT"

log() { printf '[kafka] %s\n' "$*"; }
err() { printf '[kafka] ERROR: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# helpers

port_open() { # port -> 0 if something accepts TCP connections on 127.0.0.1:port
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

read_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local p
  p="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$p" ]] || return 1
  printf '%s' "$p"
}

# Our broker = pid alive AND its command line is kafka.Kafka with our server.properties
# (guards against pid reuse after a reboot or a crash).
is_our_broker() {
  local p="$1" cmd
  kill -0 "$p" 2>/dev/null || return 1
  [[ -r "/proc/$p/cmdline" ]] || return 0 # no procfs: trust the pid
  cmd="$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)"
  [[ "$cmd" == *kafka.Kafka* && "$cmd" == *"$PROPS"* ]]
}

running_pid() { # prints pid of our running broker, else returns 1 (and removes a stale pid file)
  local p
  p="$(read_pid)" || return 1
  if is_our_broker "$p"; then
    printf '%s' "$p"
    return 0
  fi
  rm -f "$PID_FILE"
  return 1
}

rss_mib() { # pid -> resident memory in MiB (best effort)
  local kb
  kb="$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || true)"
  [[ -n "$kb" ]] && printf '%d MiB' $((kb / 1024)) || printf 'unknown'
}

now_s() { date +%s.%N 2>/dev/null || date +%s; }
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }

show_log_tail() {
  local n="${1:-50}"
  if [[ -s "$LOG_FILE" ]]; then
    printf '[kafka] ----- last %s lines of %s -----\n' "$n" "$LOG_FILE" >&2
    tail -n "$n" "$LOG_FILE" >&2 || true
    printf '[kafka] ----- end of log -----\n' >&2
  else
    err "no broker log at $LOG_FILE"
  fi
}

require_java() {
  command -v java >/dev/null 2>&1 ||
    die "java not found: install OpenJDK 17 (apt-get install openjdk-17-jre-headless) and make sure 'java' is on PATH."
  local v major
  v="$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')"
  major="${v%%.*}"
  [[ "$major" == "1" ]] && major="$(echo "$v" | cut -d. -f2)"
  if [[ -n "$major" && "$major" =~ ^[0-9]+$ && "$major" -lt 11 ]]; then
    die "java $v is too old for Kafka 3.9 (needs 11+, 17 recommended): install OpenJDK 17 (apt-get install openjdk-17-jre-headless) or put it first on PATH."
  fi
}

pom_sum() { sha256sum "$POM" | cut -d' ' -f1; }

# Copy the broker jars into $LIB_DIR unless a complete copy for this exact pom.xml is cached.
ensure_jars() {
  [[ -f "$POM" ]] || die "missing $POM: restore it from git (git checkout -- infra/kafka/pom.xml)."
  local sum marker
  sum="$(pom_sum)"
  marker="$LIB_DIR/.complete-$sum"
  if [[ -f "$marker" ]] && compgen -G "$LIB_DIR/kafka_2.13-*.jar" >/dev/null; then
    log "jars: cached in $LIB_DIR ($(find "$LIB_DIR" -maxdepth 1 -name '*.jar' | wc -l) jars)"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found and no cached jars in $LIB_DIR: install Maven (apt-get install maven), it downloads the broker from Maven Central once."
  log "jars: resolving Kafka from Maven Central into $LIB_DIR (first run only, ~50 MB) ..."
  local tmp="$HOME_DIR/lib.tmp.$$" t0
  t0="$(now_s)"
  rm -rf "$tmp"
  mkdir -p "$HOME_DIR"
  # (Maven 3.8 prints stray ANSI resets even with -q -B: strip them; pipefail keeps mvn's exit code.)
  if ! mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 |
    sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2; then
    rm -rf "$tmp"
    die "mvn dependency:copy-dependencies failed: check that https://repo.maven.apache.org is reachable (proxy settings in ~/.m2/settings.xml) and re-run 'bash scripts/kafka.sh start'."
  fi
  compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || {
    rm -rf "$tmp"
    die "Maven finished but no kafka_2.13 jar was copied: check $POM, then re-run 'bash scripts/kafka.sh start'."
  }
  touch "$tmp/.complete-$sum"
  rm -rf "$LIB_DIR"
  mv "$tmp" "$LIB_DIR"
  log "jars: $(find "$LIB_DIR" -maxdepth 1 -name '*.jar' | wc -l) jars in $(elapsed "$t0")s"
}

write_props() {
  mkdir -p "$STATE_DIR" "$DATA_DIR"
  cat >"$PROPS" <<EOF
# Generated by scripts/kafka.sh -- do not edit, edit the script instead.
# Single node, combined KRaft broker + controller, static quorum (Kafka 3.9).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT

log.dirs=$DATA_DIR

# Single replica everywhere.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1

# Several partitions so per-key ordering is exercised; small internal topics start faster.
num.partitions=3
offsets.topic.num.partitions=3
transaction.state.log.num.partitions=3
auto.create.topics.enable=true
delete.topic.enable=true

# Tests: no 3 s delay before the first consumer-group rebalance.
group.initial.rebalance.delay.ms=0

# Sized for a 2-core dev/CI machine.
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
EOF
}

java_log_opt() { printf -- '-Dlog4j.configuration=file:%s' "$LOG4J_CONF"; }

format_storage() {
  if [[ -f "$DATA_DIR/meta.properties" ]]; then
    return 0
  fi
  local id
  if [[ -s "$CLUSTER_ID_FILE" ]]; then
    id="$(cat "$CLUSTER_ID_FILE")"
  else
    id="$(java -cp "$LIB_DIR/*" "$(java_log_opt)" kafka.tools.StorageTool random-uuid 2>>"$LOG_FILE" | grep -E '^[A-Za-z0-9_-]{22}$' | tail -n 1)" ||
      die "kafka.tools.StorageTool random-uuid failed (see $LOG_FILE): try 'bash scripts/kafka.sh clean' and start again."
    [[ -n "$id" ]] || die "could not generate a cluster id: see $LOG_FILE, then 'bash scripts/kafka.sh clean' and start again."
    printf '%s\n' "$id" >"$CLUSTER_ID_FILE"
  fi
  log "formatting storage in $DATA_DIR (cluster id $id)"
  if ! java -cp "$LIB_DIR/*" "$(java_log_opt)" kafka.tools.StorageTool format \
    -t "$id" -c "$PROPS" --ignore-formatted >>"$LOG_FILE" 2>&1; then
    show_log_tail 20
    die "storage format failed: if the data dir is from another cluster/version, run 'bash scripts/kafka.sh clean' and start again."
  fi
}

# Wait until the broker accepts clients. Prefers a real client check (kafkajs admin), falls back
# to "port open + 'Kafka Server started' in the log" when node/kafkajs are not installed yet.
wait_ready() {
  local pid="$1" rc=0
  if command -v node >/dev/null 2>&1 && (cd "$REPO_DIR" && node -e "require.resolve('kafkajs')") >/dev/null 2>&1; then
    (cd "$REPO_DIR" && node "$WAIT_JS" --brokers "$BROKERS" --timeout "$START_TIMEOUT" --pid "$pid" --warm) || rc=$?
    return "$rc"
  fi
  log "(kafkajs not installed: waiting for the listener and the 'Kafka Server started' log line instead)"
  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      printf '\n' >&2
      return 2
    fi
    if port_open "$PORT" && grep -q 'Kafka Server started' "$LOG_FILE" 2>/dev/null; then
      printf '\n' >&2
      return 0
    fi
    printf '.' >&2
    sleep 1
  done
  printf '\n' >&2
  return 1
}

# ---------------------------------------------------------------------------------------------
# commands

cmd_start() {
  local t0 pid rc=0
  t0="$(now_s)"

  if pid="$(running_pid)"; then
    if port_open "$PORT"; then
      log "already running (pid $pid, $BROKERS, RSS $(rss_mib "$pid"))"
      echo "KAFKA_BROKERS=$BROKERS"
      return 0
    fi
    log "process $pid is running but $BROKERS does not answer yet: waiting for it"
  else
    if port_open "$PORT"; then
      die "port $PORT is already used by another process (not started by this script; see 'ss -ltnp | grep :$PORT'). Stop it, or use another port: KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 bash scripts/kafka.sh start"
    fi
    if port_open "$CONTROLLER_PORT"; then
      die "controller port $CONTROLLER_PORT is already in use (see 'ss -ltnp | grep :$CONTROLLER_PORT'). Stop that process or set KAFKA_CONTROLLER_PORT=<free port>."
    fi

    require_java
    ensure_jars
    [[ -f "$LOG4J_CONF" ]] || die "missing $LOG4J_CONF: restore it from git (git checkout -- infra/kafka/log4j.properties)."
    write_props
    if [[ -f "$LOG_FILE" ]]; then mv -f "$LOG_FILE" "$LOG_FILE.1"; fi
    : >"$LOG_FILE"
    format_storage

    log "starting broker (KRaft broker+controller, $BROKERS, controller $HOST:$CONTROLLER_PORT, heap '$HEAP_OPTS')"
    # shellcheck disable=SC2086 # HEAP_OPTS / KAFKA_JVM_OPTS are intentionally word-split
    nohup java $HEAP_OPTS ${KAFKA_JVM_OPTS:-} -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -cp "$LIB_DIR/*" "$(java_log_opt)" kafka.Kafka "$PROPS" >>"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$PID_FILE"
    log "pid $pid, log $LOG_FILE"
  fi

  log "waiting up to ${START_TIMEOUT}s for the broker to accept clients"
  wait_ready "$pid" || rc=$?
  if ((rc != 0)); then
    show_log_tail 50
    case "$rc" in
      2) err "the broker process exited during startup (log above). Common fixes: 'bash scripts/kafka.sh clean' (stale/incompatible data dir), free the ports $PORT/$CONTROLLER_PORT, or give the JVM more memory (KAFKA_HEAP_OPTS='-Xmx1g')." ;;
      *) err "the broker did not accept clients within ${START_TIMEOUT}s (log above). Try KAFKA_START_TIMEOUT=180 on a slow machine, or 'bash scripts/kafka.sh stop --clean' and start again." ;;
    esac
    if kill -0 "$pid" 2>/dev/null; then
      err "the process $pid is still running; stop it with 'bash scripts/kafka.sh stop'."
    else
      rm -f "$PID_FILE"
    fi
    exit 1
  fi
  log "ready in $(elapsed "$t0")s (pid $pid, RSS $(rss_mib "$pid"))"
  echo "KAFKA_BROKERS=$BROKERS"
}

cmd_stop() {
  local clean=0 pid t0
  [[ "${1:-}" == "--clean" ]] && clean=1
  t0="$(now_s)"
  if pid="$(running_pid)"; then
    log "stopping broker (pid $pid, SIGTERM) ..."
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      err "broker did not exit within ${STOP_TIMEOUT}s: sending SIGKILL (data is safe, the next start recovers the logs)"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
    rm -f "$PID_FILE"
    log "stopped in $(elapsed "$t0")s"
  else
    log "not running"
  fi
  if ((clean)); then
    rm -rf "$DATA_DIR" "$CLUSTER_ID_FILE" "$PROPS"
    log "deleted data dir $DATA_DIR (jar cache $LIB_DIR kept)"
  fi
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if port_open "$PORT"; then
      log "running (pid $pid, $BROKERS, RSS $(rss_mib "$pid"), log $LOG_FILE)"
    else
      log "process running (pid $pid) but $BROKERS is not answering (starting or shutting down?); see 'bash scripts/kafka.sh logs'"
    fi
    return 0
  fi
  if port_open "$PORT"; then
    log "not running (by this script) -- but something else listens on $BROKERS"
  else
    log "not running (start it with 'bash scripts/kafka.sh start')"
  fi
  return 3
}

cmd_logs() {
  local follow=0 n=100 a
  for a in "$@"; do
    case "$a" in
      -f | --follow) follow=1 ;;
      '' | *[!0-9]*) die "usage: bash scripts/kafka.sh logs [-f] [lines]" ;;
      *) n="$a" ;;
    esac
  done
  [[ -f "$LOG_FILE" ]] || die "no broker log yet at $LOG_FILE: start the broker with 'bash scripts/kafka.sh start'."
  if ((follow)); then tail -n "$n" -f "$LOG_FILE"; else tail -n "$n" "$LOG_FILE"; fi
}

usage() {
  cat >&2 <<EOF
usage: bash scripts/kafka.sh <start|stop [--clean]|clean|status|logs [-f] [N]>
  start    start the local Kafka broker on $BROKERS (jars cached in $LIB_DIR)
  stop     stop it (--clean also deletes $DATA_DIR)
  clean    stop and delete the data dir
  status   exit 0 if running, 3 if not
  logs     show the broker log ($LOG_FILE)
EOF
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    clean) cmd_stop --clean ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    -h | --help | help) usage ;;
    *)
      usage
      exit 2
      ;;
  esac
}

main "$@"
