#!/usr/bin/env bash
# A distributed Sigillum on one machine: Kafka + PostgreSQL + every role in its own process + a second processor.
#
#   bash scripts/cluster.sh start            # starts what is not running (Kafka, PostgreSQL, then each instance)
#   bash scripts/cluster.sh status           # one line per instance: pid, port, /health
#   bash scripts/cluster.sh kill processor   # kill -9 one instance (start brings it back)
#   bash scripts/cluster.sh stop             # SIGTERM every instance (Kafka and PostgreSQL keep running)
#   bash scripts/cluster.sh logs certifier   # the last lines an instance wrote
#   bash scripts/cluster.sh env              # the address of the gateway and where the state is, as KEY=value lines
#
# Instances: gateway, directory, certifier, domicile, processor, processor-2, projections. The gateway is the one
# address clients call (ROLE_URLS routes each request to the role's process; processor routes to both processors).
# Every instance writes its own streams to the shared PostgreSQL event store (schema CLUSTER_NAME), relays them to
# Kafka (topics and groups prefixed `CLUSTER_NAME.`), keeps its checkpoints, timers and views in its own SQLite file
# under CLUSTER_DIR/<instance>, and shares the deployment's key store (CLUSTER_DIR/keys); the processors share the
# archive and the print jobs (CLUSTER_DIR/archive, CLUSTER_DIR/print-jobs).
#
# Settings (environment): CLUSTER_NAME (default sigillum; letters, digits, _), CLUSTER_DIR (default var/cluster-<name>),
# CLUSTER_BASE_PORT (default 3100: gateway on it, the others on the next ports), KAFKA_BROKERS (default 127.0.0.1:9092;
# started by scripts/kafka.sh when it is that default and down), DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
# CLUSTER_START_TIMEOUT_S (default 90), CLUSTER_CERTIFIERS (1 or 2). Any other variable (SMTP_*, CHAIN_*, LOG_LEVEL...) is passed to every instance.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
NAME="${CLUSTER_NAME:-sigillum}"
if ! [[ "$NAME" =~ ^[a-z][a-z0-9_]{0,30}$ ]]; then
  echo "[cluster] CLUSTER_NAME=\"$NAME\" must be 1-31 lower-case letters, digits or _, starting with a letter" >&2
  exit 64
fi
DIR="${CLUSTER_DIR:-$ROOT/var/cluster-$NAME}"
BASE="${CLUSTER_BASE_PORT:-3100}"
BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
DB_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
START_TIMEOUT="${CLUSTER_START_TIMEOUT_S:-90}"

# instance:role:port-offset, in start order (the gateway last: it forwards to the others). CLUSTER_CERTIFIERS=2 adds
# a second certifier (certifier-2), started after the first has established the CA.
INSTANCES=(directory:directory:1 certifier:certifier:2 domicile:domicile:3 processor:processor:4 projections:projections:5 processor-2:processor:6)
case "${CLUSTER_CERTIFIERS:-1}" in
  1) ;;
  2) INSTANCES+=(certifier-2:certifier:7) ;;
  *) echo "[cluster] CLUSTER_CERTIFIERS=${CLUSTER_CERTIFIERS} must be 1 or 2" >&2; exit 64 ;;
esac
INSTANCES+=(gateway:gateway:0)

say() { echo "[cluster] $*" >&2; }
role_of() { for spec in "${INSTANCES[@]}"; do IFS=: read -r i r o <<<"$spec"; [[ "$i" == "$1" ]] && { echo "$r"; return; }; done; return 1; }
port_of() { for spec in "${INSTANCES[@]}"; do IFS=: read -r i r o <<<"$spec"; [[ "$i" == "$1" ]] && { echo $((BASE + o)); return; }; done; return 1; }
pid_of() { [[ -f "$DIR/$1.pid" ]] && cat "$DIR/$1.pid" || true; }
alive() { local pid; pid="$(pid_of "$1")"; [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; }
health() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$(port_of "$1")/health" 2>/dev/null || true; }
url() { echo "http://127.0.0.1:$(port_of "$1")"; }

ensure_postgres() {
  if node -e "const {Client}=require('pg');const c=new Client({connectionString:process.argv[1],connectionTimeoutMillis:2000});c.connect().then(()=>c.end()).then(()=>process.exit(0),()=>process.exit(1))" "$DB_URL" 2>/dev/null; then return; fi
  if [[ "$DB_URL" == *"127.0.0.1:5432"* ]] && ls /etc/postgresql >/dev/null 2>&1; then
    say "PostgreSQL is down: starting the local cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
    return
  fi
  say "PostgreSQL at DATABASE_URL is unreachable; start it or set DATABASE_URL"
  exit 69
}

ensure_kafka() {
  if node "$ROOT/scripts/kafka-wait.js" --brokers "$BROKERS" --timeout 3 >/dev/null 2>&1; then return; fi
  if [[ "$BROKERS" == "127.0.0.1:9092" ]]; then
    say "Kafka is down: bash scripts/kafka.sh start"
    bash "$ROOT/scripts/kafka.sh" start >&2
    return
  fi
  say "Kafka at KAFKA_BROKERS=$BROKERS is unreachable; start it or set KAFKA_BROKERS"
  exit 69
}

role_urls() {
  local certifiers="$(url certifier)"
  if role_of certifier-2 >/dev/null; then certifiers+="|$(url certifier-2)"; fi
  echo "directory=$(url directory),certifier=$certifiers,domicile=$(url domicile),processor=$(url processor)|$(url processor-2),projections=$(url projections)"
}

start_instance() {
  local instance="$1" role port
  role="$(role_of "$instance")"; port="$(port_of "$instance")"
  if alive "$instance"; then return; fi
  mkdir -p "$DIR/$instance"
  local extra=()
  if [[ "$role" == "gateway" ]]; then extra=(ROLES=gateway "ROLE_URLS=$(role_urls)"); fi
  # The processors' archive and print jobs are the deployment's, whichever instance performed the step.
  if [[ "$role" == "processor" ]]; then extra=(PROCESSOR_ARCHIVE_DIR="$DIR/archive" PROCESSOR_PRINT_JOBS_DIR="$DIR/print-jobs"); fi
  say "starting $instance ($role) on port $port"
  (
    cd "$ROOT"
    env "${extra[@]}" \
      EVENT_STORE=postgres DATABASE_URL="$DB_URL" PG_SCHEMA="$NAME" \
      KAFKA_BROKERS="$BROKERS" KAFKA_TOPIC_PREFIX="$NAME." INSTANCE_ID="$instance" \
      DATA_DIR="$DIR/$instance" KEYSTORE_DIR="$DIR/keys" KEYSTORE_PASSPHRASE="$(cat "$DIR/keystore-passphrase")" \
      PORT="$port" HOST=127.0.0.1 TRUST_PROXY="${TRUST_PROXY:-loopback}" LOG_LEVEL="${LOG_LEVEL:-log}" \
      nohup node --max-semi-space-size=32 -r ./scripts/register-paths.js "dist/apps/$role/src/main.js" >>"$DIR/$instance.log" 2>&1 &
    echo $! >"$DIR/$instance.pid"
  )
  local waited=0
  until [[ "$(health "$instance")" == "200" ]]; do
    if ! alive "$instance"; then
      say "$instance exited while starting; its last lines:"; tail -n 20 "$DIR/$instance.log" >&2; exit 1
    fi
    if ((waited >= START_TIMEOUT * 5)); then
      say "$instance is not healthy after ${START_TIMEOUT} s (GET $(url "$instance")/health: $(health "$instance")); see $DIR/$instance.log"; exit 1
    fi
    sleep 0.2; waited=$((waited + 1))
  done
}

cmd_start() {
  mkdir -p "$DIR"
  [[ -f "$DIR/keystore-passphrase" ]] || (umask 077; node -e "process.stdout.write(require('crypto').randomBytes(24).toString('base64url'))" >"$DIR/keystore-passphrase")
  ensure_postgres
  ensure_kafka
  if [[ ! -f "$ROOT/dist/apps/gateway/src/main.js" || -n "${CLUSTER_BUILD:-}" ]]; then say "building (npm run build)"; (cd "$ROOT" && npm run build --silent); fi
  for spec in "${INSTANCES[@]}"; do IFS=: read -r instance _ _ <<<"$spec"; start_instance "$instance"; done
  say "up: $(url gateway) (admin credential: $DIR/directory/admin-credential)"
}

cmd_stop() {
  local pids=()
  for spec in "${INSTANCES[@]}"; do
    IFS=: read -r instance _ _ <<<"$spec"
    if alive "$instance"; then pids+=("$(pid_of "$instance")"); kill -TERM "$(pid_of "$instance")" 2>/dev/null || true; fi
  done
  for _ in $(seq 1 100); do
    local any=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && any=1; done
    ((any == 0)) && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true; done
  say "stopped ${#pids[@]} instance(s)"
}

cmd_status() {
  local down=0
  for spec in "${INSTANCES[@]}"; do
    IFS=: read -r instance role _ <<<"$spec"
    if alive "$instance"; then
      printf '%-12s %-11s pid %-7s %s  /health %s\n' "$instance" "$role" "$(pid_of "$instance")" "$(url "$instance")" "$(health "$instance")"
    else
      printf '%-12s %-11s down\n' "$instance" "$role"; down=1
    fi
  done
  return $down
}

cmd_kill() {
  local instance="${1:?name the instance to kill: ${INSTANCES[*]%%:*}}"
  role_of "$instance" >/dev/null || { say "no instance \"$instance\" (one of: $(printf '%s ' "${INSTANCES[@]%%:*}"))"; exit 64; }
  if alive "$instance"; then kill -9 "$(pid_of "$instance")"; say "killed $instance (kill -9)"; else say "$instance is not running"; fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  kill) cmd_kill "${2:-}" ;;
  logs) tail -n "${3:-50}" "$DIR/${2:?name an instance}.log" ;;
  env) echo "SIGILLUM_URL=$(url gateway)"; echo "CLUSTER_DIR=$DIR"; echo "KAFKA_TOPIC_PREFIX=$NAME."; echo "PG_SCHEMA=$NAME" ;;
  *)
    echo "usage: bash scripts/cluster.sh start|stop|status|kill <instance>|logs <instance> [lines]|env" >&2
    echo "instances: $(printf '%s ' "${INSTANCES[@]%%:*}")" >&2
    exit 64
    ;;
esac
