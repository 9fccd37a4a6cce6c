#!/usr/bin/env bash
# Debit throughput and latency of Coffer on SQLite and PostgreSQL, one hot wallet and a spread of wallets,
# followed by `coffer verify` on each database. See bench/README.md.
#
#   ./bench/run.sh
#
# Knobs (environment): BENCH_SECONDS (15), BENCH_CLIENTS (64), BENCH_WALLETS (1000), BENCH_WARMUP (5),
# BENCH_STORAGES ("sqlite postgres"), BENCH_PORT (58080), BENCH_PG_PORT (55433), COFFER_BENCH_PG (an existing
# PostgreSQL URL to use instead of a throwaway server).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_SECONDS=${BENCH_SECONDS:-15}
BENCH_CLIENTS=${BENCH_CLIENTS:-64}
BENCH_WALLETS=${BENCH_WALLETS:-1000}
BENCH_WARMUP=${BENCH_WARMUP:-5}
BENCH_STORAGES=${BENCH_STORAGES:-sqlite postgres}
BENCH_PORT=${BENCH_PORT:-58080}
BENCH_PG_PORT=${BENCH_PG_PORT:-55433}
COFFER_BENCH_PG=${COFFER_BENCH_PG:-}

die() { echo "run.sh: $*" >&2; exit 2; }
log() { printf '\n### %s\n' "$*"; }

for knob in BENCH_SECONDS BENCH_CLIENTS BENCH_WALLETS BENCH_WARMUP BENCH_PORT BENCH_PG_PORT; do
  [[ ${!knob} =~ ^[0-9]+$ ]] || die "$knob must be a whole number, not '${!knob}'"
done
for storage in $BENCH_STORAGES; do
  [[ $storage == sqlite || $storage == postgres ]] || die "BENCH_STORAGES holds sqlite and/or postgres, not '$storage'"
done
(( BENCH_WALLETS >= 2 )) || die "BENCH_WALLETS is the spread run's wallet count and must be 2 or more"
command -v dotnet >/dev/null || die "dotnet is not on PATH"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/coffer-bench.XXXXXX")
PG_DIR=""
PG_BIN=""
COFFER_PID=""
API_KEY="bench_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SUMMARY="$WORK/summary.tsv"
VERIFY="$WORK/verify.tsv"
: >"$SUMMARY"
: >"$VERIFY"
FAILED=0

stop_coffer() {
  [[ -n $COFFER_PID ]] || return 0
  if kill -0 "$COFFER_PID" 2>/dev/null; then
    kill -TERM "$COFFER_PID" 2>/dev/null || true
    for _ in $(seq 1 60); do
      kill -0 "$COFFER_PID" 2>/dev/null || break
      sleep 0.5
    done
    kill -0 "$COFFER_PID" 2>/dev/null && kill -KILL "$COFFER_PID" 2>/dev/null
  fi
  wait "$COFFER_PID" 2>/dev/null || true
  COFFER_PID=""
}

stop_pg() {
  [[ -n $PG_DIR ]] || return 0
  if [[ -f $PG_DIR/data/postmaster.pid ]]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_DIR"
  PG_DIR=""
}

cleanup() {
  set +e
  stop_coffer
  stop_pg
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs a command as the PostgreSQL OS user: the server refuses to run as root.
as_pg() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

healthy() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$BENCH_PORT" || exit 1
    printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
    IFS= read -r -t 5 status <&3 || exit 1
    [[ $status == *" 200 "* ]]
  ) 2>/dev/null
}

start_pg() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -z $PG_BIN ]]; then
    [[ $(id -u) == 0 ]] || die "PostgreSQL is not installed (/usr/lib/postgresql/*/bin); install it or set COFFER_BENCH_PG"
    log "installing PostgreSQL"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y postgresql >/dev/null || { apt-get update >/dev/null && apt-get install -y postgresql >/dev/null; }
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  if [[ $(id -u) == 0 ]]; then id postgres >/dev/null 2>&1 || die "the postgres OS user is missing"; fi
  port_busy "$BENCH_PG_PORT" && die "port $BENCH_PG_PORT is in use; set BENCH_PG_PORT"

  PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/coffer-bench-pg.XXXXXX")
  local password
  password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s\n' "$password" >"$PG_DIR/pwfile"
  chmod 600 "$PG_DIR/pwfile"
  [[ $(id -u) == 0 ]] && chown -R postgres:postgres "$PG_DIR"

  log "starting a throwaway PostgreSQL ($("$PG_BIN/postgres" --version)) on 127.0.0.1:$BENCH_PG_PORT"
  as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U coffer --auth=scram-sha-256 --pwfile="$PG_DIR/pwfile" \
    --encoding=UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
  cat >>"$PG_DIR/data/postgresql.conf" <<EOF

# coffer bench: loopback only, private port, durable commits
listen_addresses = '127.0.0.1'
port = $BENCH_PG_PORT
unix_socket_directories = '$PG_DIR'
fsync = on
synchronous_commit = on
full_page_writes = on
shared_buffers = 256MB
max_connections = 200
max_wal_size = 2GB
EOF
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start >/dev/null ||
    { cat "$PG_DIR/server.log" >&2; die "PostgreSQL did not start"; }
  PGPASSWORD=$password "$PG_BIN/psql" -h 127.0.0.1 -p "$BENCH_PG_PORT" -U coffer -d postgres -qAt \
    -c "CREATE DATABASE coffer_bench" >/dev/null
  PG_URL="postgres://coffer:$password@127.0.0.1:$BENCH_PG_PORT/coffer_bench"
}

# start_coffer DATABASE LOGFILE: serves Coffer from its publish folder (so its appsettings.json applies).
start_coffer() {
  port_busy "$BENCH_PORT" && die "port $BENCH_PORT is in use; set BENCH_PORT"
  (
    cd "$WORK/coffer"
    export COFFER_DATABASE=$1 COFFER_API_KEY=$API_KEY COFFER_WORKERS=off ASPNETCORE_ENVIRONMENT=Production
    exec dotnet Coffer.dll --urls "http://127.0.0.1:$BENCH_PORT"
  ) >"$2" 2>&1 &
  COFFER_PID=$!
  for _ in $(seq 1 120); do
    healthy && return 0
    kill -0 "$COFFER_PID" 2>/dev/null || break
    sleep 0.5
  done
  echo "Coffer did not become healthy; last lines of its log:" >&2
  tail -n 30 "$2" >&2
  stop_coffer
  return 1
}

run_storage() {
  local storage=$1 database=$2 server_log="$WORK/coffer-$1.log"
  log "$storage: starting Coffer on 127.0.0.1:$BENCH_PORT"
  if ! start_coffer "$database" "$server_log"; then
    printf '%s\tdid not start\n' "$storage" >>"$VERIFY"
    FAILED=1
    return 0
  fi
  local wallets label rc
  for wallets in 1 "$BENCH_WALLETS"; do
    if [[ $wallets == 1 ]]; then label="$storage hot"; else label="$storage spread"; fi
    log "$label: $BENCH_CLIENTS clients, ${BENCH_SECONDS}s, $wallets wallet(s); load average $(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo '?')"
    rc=0
    dotnet "$WORK/bench/Coffer.Bench.dll" --url "http://127.0.0.1:$BENCH_PORT" --key "$API_KEY" \
      --clients "$BENCH_CLIENTS" --seconds "$BENCH_SECONDS" --warmup "$BENCH_WARMUP" --wallets "$wallets" \
      --label "$label" --summary "$SUMMARY" --server-pid "$COFFER_PID" || rc=$?
    if [[ $rc != 0 ]]; then
      echo "bench exited with $rc"
      FAILED=1
      # Exit 1 is a balance MISMATCH, already in the summary; anything else left no line there.
      [[ $rc == 1 ]] || printf '%s\t%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t-\tFAILED:%s\t-\t-\t-\t-\t-\n' \
        "$label" "$wallets" "$BENCH_CLIENTS" "$BENCH_SECONDS" "$rc" >>"$SUMMARY"
    fi
  done
  log "$storage: stopping Coffer"
  stop_coffer
  local problems
  problems=$(grep -Eic '^(fail|crit)|exception' "$server_log" || true)
  if [[ $problems != 0 ]]; then
    echo "Coffer logged $problems failure/exception line(s) under load; the first ones:"
    grep -Ei -m 10 -A 3 '^(fail|crit)|exception' "$server_log" | cut -c 1-300 || true
  fi

  log "$storage: coffer verify"
  rc=0
  (cd "$WORK/coffer" && COFFER_DATABASE=$database dotnet Coffer.dll verify) >"$WORK/verify-$storage.log" 2>&1 || rc=$?
  head -n 40 "$WORK/verify-$storage.log"
  echo "verify exit code: $rc"
  [[ $rc == 0 ]] || FAILED=1
  printf '%s\t%s\n' "$storage" "$rc" >>"$VERIFY"
}

log "building Coffer and the bench (Release) into $WORK"
dotnet publish "$ROOT/src/Coffer/Coffer.csproj" -c Release -o "$WORK/coffer" --nologo -v quiet
dotnet publish "$ROOT/bench/Coffer.Bench/Coffer.Bench.csproj" -c Release -o "$WORK/bench" --nologo -v quiet

for storage in $BENCH_STORAGES; do
  case $storage in
    sqlite)
      mkdir -p "$WORK/sqlite"
      run_storage sqlite "$WORK/sqlite/coffer.db"
      ;;
    postgres)
      if [[ -n $COFFER_BENCH_PG ]]; then
        log "postgres: using COFFER_BENCH_PG (verify checks every wallet in that database, not only the bench's)"
        run_storage postgres "$COFFER_BENCH_PG"
      else
        start_pg
        run_storage postgres "$PG_URL"
        stop_pg
      fi
      ;;
  esac
done

log "summary ($BENCH_CLIENTS clients, ${BENCH_SECONDS}s per run, $(nproc) CPUs shared by Coffer, the database and the bench)"
# "server us/req" is Coffer's own CPU per request, "machine-bench us/req" the whole machine's busy CPU less the
# bench's (Coffer, the database and anything else running); both are steadier than req/s, see bench/README.md.
printf '%-16s %7s %9s %7s %10s %9s %9s %9s %9s %13s %20s  %-8s %s\n' \
  run wallets requests errors "req/s" "p50 ms" "p90 ms" "p99 ms" "max ms" "server us/req" "machine-bench us/req" balance "errors by kind"
while IFS=$'\t' read -r label wallets _clients _seconds requests errors rps p50 p90 p99 max check kinds server_us machine_us _bench_us _busy; do
  printf '%-16s %7s %9s %7s %10s %9s %9s %9s %9s %13s %20s  %-8s %s\n' \
    "$label" "$wallets" "$requests" "$errors" "$rps" "$p50" "$p90" "$p99" "$max" "$server_us" "$machine_us" "$check" "$kinds"
done <"$SUMMARY"
echo
while IFS=$'\t' read -r storage rc; do
  if [[ $rc == 0 ]]; then echo "verify $storage: OK (exit 0)"
  elif [[ $rc =~ ^[0-9]+$ ]]; then echo "verify $storage: FAILED (exit $rc)"
  else echo "verify $storage: $rc"; fi
done <"$VERIFY"

exit "$FAILED"
