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
# Secure mode (--secure on any command, or KAFKA_SECURITY=sasl): a second, independent broker (own state dir
# and ports, so it runs beside the plain one) with SASL/SCRAM-SHA-512 on the client listener, SASL/PLAIN on
# the KRaft controller listener (both SASL_PLAINTEXT: no TLS, loopback only), the KRaft StandardAuthorizer
# with allow.everyone.if.no.acl.found=false, super user `admin`, and the app principal `sigillum` (ACLs below).
#
#   bash scripts/kafka.sh start --secure          as start, on 127.0.0.1:9094 (controller 9095), state .kafka/state-secure
#   bash scripts/kafka.sh add-partner NAME [--read TOPIC,...]
#                                                 SCRAM user partner-NAME: may WRITE only sigillum.partner.NAME.inbound
#                                                 (created), READ the listed topics (a bare category means
#                                                 sigillum.<category>.events), use groups sigillum.partner.NAME.*
#   bash scripts/kafka.sh acls                    list the ACLs of the secure broker
#   bash scripts/kafka.sh stop|status|logs|clean --secure
#
#   Passwords live in <state>/credentials/<user>.password (mode 0600, never printed). They are generated at
#   the first secure start (admin, app) or add-partner, unless KAFKA_ADMIN_PASSWORD / KAFKA_APP_PASSWORD /
#   KAFKA_PARTNER_PASSWORD are set then (read once, when the file does not exist yet). <state>/credentials/
#   admin.properties is a client config for Kafka's own CLI tools (--command-config).
#   App principal ACLs: ALL on topics and groups prefixed `sigillum.` (it relays the event log, creates topics,
#   dead-letters, consumes); nobody else may write an events topic.
#
# Environment:
#   KAFKA_HOME_DIR         cache + state root           (default <repo>/.kafka)
#   KAFKA_STATE_DIR        config, pid, log, data       (default $KAFKA_HOME_DIR/state)
#   KAFKA_PORT             client listener port         (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port        (default 9093)
#   KAFKA_START_TIMEOUT    seconds to wait for readiness (default 90)
#   KAFKA_HEAP_OPTS        JVM heap                     (default -Xms256m -Xmx512m)
#   KAFKA_JVM_OPTS         extra JVM options            (default empty)
#   KAFKA_SECURITY         plaintext (default) | sasl   (same as --secure)
#   KAFKA_APP_USER         app principal, secure mode   (default sigillum)
# In secure mode the defaults are KAFKA_STATE_DIR=$KAFKA_HOME_DIR/state-secure, KAFKA_PORT=9094,
# KAFKA_CONTROLLER_PORT=9095.
set -euo pipefail

# --secure anywhere on the command line selects secure mode; add-partner and acls imply it.
SECURE=0
ARGS=()
for a in "$@"; do
  if [[ "$a" == "--secure" ]]; then SECURE=1; else ARGS+=("$a"); fi
done
set -- ${ARGS[@]+"${ARGS[@]}"}
case "${KAFKA_SECURITY:-}" in
  '' | plaintext | none) ;;
  sasl | scram | sasl_plaintext) SECURE=1 ;;
  *)
    printf '[kafka] ERROR: KAFKA_SECURITY="%s" must be plaintext or sasl\n' "$KAFKA_SECURITY" >&2
    exit 2
    ;;
esac
case "${1:-}" in add-partner | acls) SECURE=1 ;; esac

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$REPO_DIR/infra/kafka/pom.xml"
LOG4J_CONF="$REPO_DIR/infra/kafka/log4j.properties"
WAIT_JS="$REPO_DIR/scripts/kafka-wait.js"
ACLS_JS="$REPO_DIR/scripts/kafka-acls.js"

HOME_DIR="${KAFKA_HOME_DIR:-$REPO_DIR/.kafka}"
LIB_DIR="$HOME_DIR/lib"
if ((SECURE)); then
  STATE_DIR="${KAFKA_STATE_DIR:-$HOME_DIR/state-secure}"
  DEFAULT_PORT=9094
else
  STATE_DIR="${KAFKA_STATE_DIR:-$HOME_DIR/state}"
  DEFAULT_PORT=9092
fi
DATA_DIR="$STATE_DIR/data"
PROPS="$STATE_DIR/server.properties"
PID_FILE="$STATE_DIR/kafka.pid"
LOG_FILE="$STATE_DIR/kafka.log"
CLUSTER_ID_FILE="$STATE_DIR/cluster.id"
MODE_FILE="$STATE_DIR/security"
CRED_DIR="$STATE_DIR/credentials"
ADMIN_USER=admin
APP_USER="${KAFKA_APP_USER:-sigillum}"
SCRAM=SCRAM-SHA-512

PORT="${KAFKA_PORT:-$DEFAULT_PORT}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((DEFAULT_PORT + 1))}"
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

# ---------------------------------------------------------------------------------------------
# secure mode: credentials

password_file() { printf '%s/%s.password' "$CRED_DIR" "$1"; }
read_password() { tr -d '\r\n' <"$(password_file "$1")"; }

# Passwords are embedded in JAAS lines and SCRAM specs ("name=...,password=..."): keep to a safe alphabet.
valid_password() { [[ "$1" =~ ^[A-Za-z0-9._~+/-]{12,128}$ ]]; }

# ensure_password USER ENV_VAR: the 0600 file exists afterwards; its content comes from $ENV_VAR if set, else random.
ensure_password() {
  local user="$1" var="$2" f pw
  f="$(password_file "$user")"
  [[ -s "$f" ]] && return 0
  pw="${!var:-}"
  if [[ -n "$pw" ]]; then
    valid_password "$pw" || die "$var must be 12-128 characters from A-Z a-z 0-9 . _ ~ + / - (it is embedded in JAAS and SCRAM settings)."
  else
    pw="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  fi
  (
    umask 077
    mkdir -p "$CRED_DIR"
    printf '%s' "$pw" >"$f.tmp"
    mv -f "$f.tmp" "$f"
  )
  log "credentials: $([[ -n "${!var:-}" ]] && echo "password of $user taken from $var" || echo "generated a password for $user") -> $f (0600)"
}

ensure_credentials() {
  chmod 700 "$STATE_DIR"
  ensure_password "$ADMIN_USER" KAFKA_ADMIN_PASSWORD
  ensure_password "$APP_USER" KAFKA_APP_PASSWORD
  # Client config of the super user for Kafka's own CLI tools (kafka-configs, kafka-acls: --command-config).
  (
    umask 077
    cat >"$CRED_DIR/admin.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=$SCRAM
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$ADMIN_USER" password="$(read_password "$ADMIN_USER")";
EOF
  )
}

# Runs a Kafka JVM tool with its main class and arguments in a 0600 @argfile, so that secrets in the
# arguments never show in the process list (the java launcher expands @files itself).
java_tool() { # main-class args...
  local argfile rc=0
  argfile="$(umask 077 && mktemp "$STATE_DIR/.args.XXXXXX")"
  printf '%s\n' "$@" >"$argfile"
  java -cp "$LIB_DIR/*" "$(java_log_opt)" "@$argfile" || rc=$?
  rm -f "$argfile"
  return "$rc"
}

# The state dir belongs to one mode: a plain data dir has no SCRAM users, a secure one refuses plain clients.
check_mode() {
  local want have
  want="$( ((SECURE)) && echo sasl || echo plaintext)"
  if [[ -f "$DATA_DIR/meta.properties" ]]; then
    have="$(cat "$MODE_FILE" 2>/dev/null || echo plaintext)"
    [[ "$have" == "$want" ]] ||
      die "$STATE_DIR holds a $have broker, not a $want one: use another KAFKA_STATE_DIR, or delete it with 'bash scripts/kafka.sh clean$([[ $have == sasl ]] && echo ' --secure')'."
  fi
  mkdir -p "$STATE_DIR"
  printf '%s\n' "$want" >"$MODE_FILE"
}

write_listener_props() {
  if ((SECURE)); then
    local admin_pw
    admin_pw="$(read_password "$ADMIN_USER")"
    cat <<EOF
# Secure mode. Clients: SASL/SCRAM-SHA-512 (users in the metadata log, added at format time or with
# kafka-configs). Controller: SASL/PLAIN with one static user, the broker itself (SCRAM cannot
# authenticate the controller listener in KRaft: its users live in the metadata the controller serves).
# SASL_PLAINTEXT: authenticated but not encrypted, acceptable on loopback only.
listeners=SASL_PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=SASL_PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_PLAINTEXT
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=$SCRAM
sasl.mechanism.inter.broker.protocol=$SCRAM
sasl.mechanism.controller.protocol=PLAIN
listener.name.sasl_plaintext.sasl.enabled.mechanisms=$SCRAM
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$ADMIN_USER" password="$admin_pw";
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$ADMIN_USER" password="$admin_pw" user_$ADMIN_USER="$admin_pw";

# Deny by default; the super user is the broker itself and the operator's admin client.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$ADMIN_USER
EOF
  else
    cat <<EOF
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
EOF
  fi
}

# ---------------------------------------------------------------------------------------------
# broker

write_props() {
  mkdir -p "$STATE_DIR" "$DATA_DIR"
  # 0600: in secure mode it holds the broker's own password (JAAS).
  (
    umask 077
    cat >"$PROPS.tmp" <<EOF
# Generated by scripts/kafka.sh -- do not edit, edit the script instead.
# Single node, combined KRaft broker + controller, static quorum (Kafka 3.9).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
$(write_listener_props)

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
  )
  mv -f "$PROPS.tmp" "$PROPS"
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
  local scram=()
  if ((SECURE)); then
    # The SCRAM users go into the first metadata records (arguments via a 0600 @argfile, see java_tool).
    scram=(--add-scram "$SCRAM=[name=$ADMIN_USER,password=$(read_password "$ADMIN_USER")]"
      --add-scram "$SCRAM=[name=$APP_USER,password=$(read_password "$APP_USER")]")
    log "SCRAM-SHA-512 users at format time: $ADMIN_USER (super user), $APP_USER (app)"
  fi
  if ! java_tool kafka.tools.StorageTool format -t "$id" -c "$PROPS" --ignore-formatted ${scram[@]+"${scram[@]}"} >>"$LOG_FILE" 2>&1; then
    show_log_tail 20
    die "storage format failed: if the data dir is from another cluster/version, run 'bash scripts/kafka.sh clean' and start again."
  fi
}

have_kafkajs() { command -v node >/dev/null 2>&1 && (cd "$REPO_DIR" && node -e "require.resolve('kafkajs')") >/dev/null 2>&1; }

# Client options of scripts/kafka-*.js for the super user (secure mode; nothing in plain mode).
admin_client_args() {
  if ((SECURE)); then
    printf -- '--sasl scram-sha-512 --username %s --password-file %s' "$ADMIN_USER" "$(password_file "$ADMIN_USER")"
  fi
}

acls_js() { (cd "$REPO_DIR" && node "$ACLS_JS" --brokers "$BROKERS" $(admin_client_args) "$@"); }

# Wait until the broker accepts clients. Prefers a real client check (kafkajs admin), falls back
# to "port open + 'Kafka Server started' in the log" when node/kafkajs are not installed yet.
wait_ready() {
  local pid="$1" rc=0
  if have_kafkajs; then
    (cd "$REPO_DIR" && node "$WAIT_JS" --brokers "$BROKERS" $(admin_client_args) --timeout "$START_TIMEOUT" --pid "$pid" --warm) || rc=$?
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
      print_client_env
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
    check_mode
    if ((SECURE)); then
      have_kafkajs || die "secure mode checks readiness and writes its ACLs with kafkajs: run 'npm ci' in $REPO_DIR first."
      ensure_credentials
    fi
    write_props
    if [[ -f "$LOG_FILE" ]]; then mv -f "$LOG_FILE" "$LOG_FILE.1"; fi
    : >"$LOG_FILE"
    format_storage

    log "starting $( ((SECURE)) && echo 'secure ' )broker (KRaft broker+controller, $BROKERS, controller $HOST:$CONTROLLER_PORT, heap '$HEAP_OPTS'$( ((SECURE)) && echo ', SASL_PLAINTEXT SCRAM-SHA-512, StandardAuthorizer, deny by default'))"
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
  if ((SECURE)); then
    # Idempotent: the app principal's ACLs are (re)asserted at every start.
    acls_js app --user "$APP_USER" || die "writing the ACLs of $APP_USER failed (see above); the broker is running: fix and run 'bash scripts/kafka.sh start --secure' again."
  fi
  log "ready in $(elapsed "$t0")s (pid $pid, RSS $(rss_mib "$pid"))"
  print_client_env
}

# What a client needs, secrets by file only.
print_client_env() {
  echo "KAFKA_BROKERS=$BROKERS"
  if ((SECURE)); then
    echo "KAFKA_SASL_MECHANISM=scram-sha-512"
    echo "KAFKA_SASL_USERNAME=$APP_USER"
    echo "KAFKA_SASL_PASSWORD_FILE=$(password_file "$APP_USER")"
  fi
}

require_secure_running() {
  local pid
  pid="$(running_pid)" && port_open "$PORT" ||
    die "the secure broker is not running on $BROKERS (state $STATE_DIR): start it with 'bash scripts/kafka.sh start --secure'."
  [[ -s "$(password_file "$ADMIN_USER")" ]] || die "no admin credentials in $CRED_DIR: was this broker started by 'bash scripts/kafka.sh start --secure'?"
  have_kafkajs || die "kafkajs is not installed: run 'npm ci' in $REPO_DIR first."
}

cmd_add_partner() {
  local name="" read="" t0
  t0="$(now_s)"
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --read)
        [[ $# -ge 2 ]] || die "usage: bash scripts/kafka.sh add-partner NAME [--read TOPIC|CATEGORY,...]"
        read="$2"
        shift 2
        ;;
      --read=*)
        read="${1#--read=}"
        shift
        ;;
      -*) die "unknown option $1; usage: bash scripts/kafka.sh add-partner NAME [--read TOPIC|CATEGORY,...]" ;;
      *)
        [[ -z "$name" ]] || die "one partner at a time; usage: bash scripts/kafka.sh add-partner NAME [--read TOPIC|CATEGORY,...]"
        name="$1"
        shift
        ;;
    esac
  done
  [[ "$name" =~ ^[a-z0-9][a-z0-9-]{0,40}$ ]] ||
    die "partner name \"$name\" must be 1-41 characters, lower-case letters, digits and '-' (usage: bash scripts/kafka.sh add-partner NAME [--read TOPIC,...])"
  require_secure_running
  local user="partner-$name"
  ensure_password "$user" KAFKA_PARTNER_PASSWORD
  log "SCRAM-SHA-512 user $user (kafka.admin.ConfigCommand)"
  local out rc=0
  out="$(java_tool kafka.admin.ConfigCommand --bootstrap-server "$BROKERS" --command-config "$CRED_DIR/admin.properties" \
    --alter --entity-type users --entity-name "$user" \
    --add-config "$SCRAM=[iterations=8192,password=$(read_password "$user")]" 2>&1)" || rc=$?
  if ((rc != 0)); then
    printf '%s\n' "$out" >&2
    die "adding the SCRAM user $user failed (above)."
  fi
  acls_js partner --name "$name" --read "$read" || die "writing the ACLs of $user failed (see above)."
  log "partner $user ready in $(elapsed "$t0")s; its client settings:"
  echo "KAFKA_BROKERS=$BROKERS"
  echo "KAFKA_SASL_MECHANISM=scram-sha-512"
  echo "KAFKA_SASL_USERNAME=$user"
  echo "KAFKA_SASL_PASSWORD_FILE=$(password_file "$user")"
}

cmd_acls() {
  require_secure_running
  acls_js list
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
    rm -rf "$DATA_DIR" "$CLUSTER_ID_FILE" "$PROPS" "$MODE_FILE" "$CRED_DIR"
    log "deleted data dir $DATA_DIR$( ((SECURE)) && echo " and credentials $CRED_DIR") (jar cache $LIB_DIR kept)"
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
    log "not running (start it with 'bash scripts/kafka.sh start$( ((SECURE)) && echo ' --secure')')"
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
usage: bash scripts/kafka.sh <start|stop [--clean]|clean|status|logs [-f] [N]|add-partner NAME [--read T,...]|acls> [--secure]
  start        start the local Kafka broker on $BROKERS (jars cached in $LIB_DIR)
  stop         stop it (--clean also deletes $DATA_DIR)
  clean        stop and delete the data dir
  status       exit 0 if running, 3 if not
  logs         show the broker log ($LOG_FILE)
  add-partner  (secure) SCRAM user partner-NAME writing only sigillum.partner.NAME.inbound, reading the --read topics
  acls         (secure) list the ACLs
  --secure     the SASL/SCRAM broker with ACLs (state .kafka/state-secure, port 9094) instead of the plain one
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
    add-partner) cmd_add_partner "$@" ;;
    acls) cmd_acls ;;
    -h | --help | help) usage ;;
    *)
      usage
      exit 2
      ;;
  esac
}

main "$@"
