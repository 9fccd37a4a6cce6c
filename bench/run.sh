#!/usr/bin/env bash
# Debit throughput and latency of Coffer on SQLite and PostgreSQL, one hot wallet and a spread of wallets,
# followed by `coffer verify` on each database. See bench/README.md.
#
#   ./bench/run.sh
#
# Knobs (environment): BENCH_SECONDS (15), BENCH_CLIENTS (64), BENCH_WALLETS (1000), BENCH_WARMUP (5),
# BENCH_STORAGES ("sqlite postgres"), BENCH_PORT (58080), BENCH_PG_PORT (55433), COFFER_BENCH_PG (an existing
# PostgreSQL URL to use instead of a throwaway server), BENCH_BATCH_CLIENTS (4), BENCH_BATCH_SIZE (2000),
# BENCH_BIG_LOTS (10000), BENCH_BIG_ENTRIES (1000000).
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
BENCH_BATCH_CLIENTS=${BENCH_BATCH_CLIENTS:-4}
BENCH_BATCH_SIZE=${BENCH_BATCH_SIZE:-2000}
BENCH_BIG_LOTS=${BENCH_BIG_LOTS:-10000}
BENCH_BIG_ENTRIES=${BENCH_BIG_ENTRIES:-1000000}

die() { echo "run.sh: $*" >&2; exit 2; }
log() { printf '\n### %s\n' "$*"; }

for knob in BENCH_SECONDS BENCH_CLIENTS BENCH_WALLETS BENCH_WARMUP BENCH_PORT BENCH_PG_PORT BENCH_BATCH_CLIENTS BENCH_BATCH_SIZE \
  BENCH_BIG_LOTS BENCH_BIG_ENTRIES; do
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
# Everything else, one "name<TAB>value" per line: baselines, bytes per entry, peak memory.
FIGURES="$WORK/figures.tsv"
: >"$SUMMARY"
: >"$VERIFY"
: >"$FIGURES"
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
  # Coffer reaches this server directly, with no pooler between, so it lets Npgsql prepare the statements it repeats, as
  # the README advises for a direct connection.
  COFFER_PG="Host=127.0.0.1;Port=$BENCH_PG_PORT;Database=coffer_bench;Username=coffer;Password=$password;Max Auto Prepare=64"
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
  local rc
  # bench_run LABEL ARGS...: one Coffer.Bench run against the server, its summary line appended.
  bench_run() {
    local label=$1
    shift
    log "$label: $*; load average $(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo '?')"
    rc=0
    dotnet "$WORK/bench/Coffer.Bench.dll" --url "http://127.0.0.1:$BENCH_PORT" --key "$API_KEY" \
      --seconds "$BENCH_SECONDS" --warmup "$BENCH_WARMUP" --label "$label" --summary "$SUMMARY" --server-pid "$COFFER_PID" "$@" || rc=$?
    if [[ $rc != 0 ]]; then
      echo "bench exited with $rc"
      FAILED=1
      # Exit 1 is a balance MISMATCH, already in the summary; anything else left no line there.
      [[ $rc == 1 ]] || printf '%s\t-\t-\t%s\t-\t-\t-\t-\t-\t-\t-\tFAILED:%s\t-\t-\t-\t-\t-\n' "$label" "$BENCH_SECONDS" "$rc" >>"$SUMMARY"
    fi
  }
  # The read ceiling first: what the same server answers when it only reads.
  bench_run "$storage get" --mode get --clients "$BENCH_CLIENTS" --wallets "$BENCH_WALLETS"
  bench_run "$storage hot" --clients "$BENCH_CLIENTS" --wallets 1
  bench_run "$storage spread" --clients "$BENCH_CLIENTS" --wallets "$BENCH_WALLETS"
  bench_run "$storage batch" --mode batch --clients "$BENCH_BATCH_CLIENTS" --batch-size "$BENCH_BATCH_SIZE" --wallets "$BENCH_WALLETS"
  bench_run "$storage reads" --mode balance --clients "$BENCH_CLIENTS" --wallets "$BENCH_WALLETS"
  bench_run "$storage big" --clients "$BENCH_CLIENTS" --wallets 1 --prefill-lots "$BENCH_BIG_LOTS" --prefill-entries "$BENCH_BIG_ENTRIES"
  # Peak resident memory of the server over all the runs.
  printf '%s peak RSS MB\t%s\n' "$storage" "$(awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$COFFER_PID/status")" >>"$FIGURES"
  log "$storage: stopping Coffer"
  stop_coffer
  local problems
  problems=$(grep -Eic '^(fail|crit)|exception' "$server_log" || true)
  if [[ $problems != 0 ]]; then
    echo "Coffer logged $problems failure/exception line(s) under load; the first ones:"
    grep -Ei -m 10 -A 3 '^(fail|crit)|exception' "$server_log" | cut -c 1-300 || true
  fi

  log "$storage: bytes per ledger entry"
  dotnet "$WORK/bench/Coffer.Bench.dll" sizes "$storage" "$database" | tee "$WORK/sizes-$storage.txt" || FAILED=1
  awk -F '\t' -v s="$storage" '$1 == "BYTES" { print s " bytes/entry written\t" $2; print s " bytes/entry pruned\t" $3 }' \
    "$WORK/sizes-$storage.txt" >>"$FIGURES"

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

# sqlite_baseline: the same disk without Coffer, one commit per debit (see bench/README.md).
sqlite_baseline() {
  local wallets label out
  for wallets in 1 "$BENCH_WALLETS"; do
    if [[ $wallets == 1 ]]; then label="sqlite loop hot"; else label="sqlite loop spread"; fi
    log "$label: raw SQLite, one BEGIN IMMEDIATE; UPDATE; INSERT; COMMIT per debit, ${BENCH_SECONDS}s"
    out=$(dotnet "$WORK/bench/Coffer.Bench.dll" sqlite-loop "$WORK/sqlite/loop-$wallets.db" "$BENCH_SECONDS" "$wallets")
    echo "$out"
    printf '%s\t%s\n' "$label" "$(sed -n 's/.* = \([0-9.]*\)\/s.*/\1/p' <<<"$out")" >>"$FIGURES"
  done
}

# pgbench_baseline URL: the same PostgreSQL without Coffer, one commit per debit (UPDATE balance + INSERT entry).
pgbench_baseline() {
  local url=$1 wallets label out
  local pgbench=${PG_BIN:+$PG_BIN/pgbench}
  [[ -n $pgbench && -x $pgbench ]] || { echo "pgbench not found; the PostgreSQL baseline is skipped"; return 0; }
  "$PG_BIN/psql" "$url" -qAt -c "DROP TABLE IF EXISTS bench_accounts, bench_entries" \
    -c "CREATE TABLE bench_accounts (id int PRIMARY KEY, balance numeric NOT NULL)" \
    -c "CREATE TABLE bench_entries (id bigserial PRIMARY KEY, account int NOT NULL, credits numeric NOT NULL, created_at timestamptz NOT NULL DEFAULT now())" \
    -c "INSERT INTO bench_accounts SELECT g, 1000000000 FROM generate_series(1, $BENCH_WALLETS) g" >/dev/null
  cat >"$WORK/debit.sql" <<'SQL'
\set aid random(1, :n)
BEGIN;
UPDATE bench_accounts SET balance = balance - 1 WHERE id = :aid;
INSERT INTO bench_entries (account, credits) VALUES (:aid, 1);
END;
SQL
  for wallets in 1 "$BENCH_WALLETS"; do
    if [[ $wallets == 1 ]]; then label="pgbench hot"; else label="pgbench spread"; fi
    log "$label: pgbench, $BENCH_CLIENTS clients, ${BENCH_SECONDS}s, $wallets row(s), one commit per debit"
    out=$("$pgbench" -n -f "$WORK/debit.sql" -D "n=$wallets" -c "$BENCH_CLIENTS" -j "$(nproc)" -T "$BENCH_SECONDS" "$url" 2>&1 | tail -n 4)
    echo "$out"
    printf '%s\t%s\n' "$label" "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -n 1)" >>"$FIGURES"
  done
  "$PG_BIN/psql" "$url" -qAt -c "DROP TABLE bench_accounts, bench_entries" >/dev/null
}

for storage in $BENCH_STORAGES; do
  case $storage in
    sqlite)
      mkdir -p "$WORK/sqlite"
      sqlite_baseline
      run_storage sqlite "$WORK/sqlite/coffer.db"
      ;;
    postgres)
      if [[ -n $COFFER_BENCH_PG ]]; then
        log "postgres: using COFFER_BENCH_PG (verify checks every wallet in that database, not only the bench's)"
        PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
        pgbench_baseline "$COFFER_BENCH_PG"
        run_storage postgres "$COFFER_BENCH_PG"
      else
        start_pg
        PGPASSWORD=$(cat "$PG_DIR/pwfile") pgbench_baseline "$PG_URL"
        run_storage postgres "$COFFER_PG"
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

# The targets: each figure beside the baseline it is compared with, from this one invocation.
fig() { awk -F '\t' -v k="$1" '$1 == k { print $2 }' "$FIGURES" | tail -n 1; }
rate() { awk -F '\t' -v k="$1" '$1 == k { print $7 }' "$SUMMARY" | tail -n 1; }
col() { awk -F '\t' -v k="$1" -v c="$2" '$1 == k { print $c }' "$SUMMARY" | tail -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
echo
printf '%-44s %12s   %-30s %12s %8s\n' figure value "compared with" baseline ratio
row() { printf '%-44s %12s   %-30s %12s %8s\n' "$1" "${2:--}" "$3" "${4:--}" "$(ratio "$2" "$4")"; }
for storage in $BENCH_STORAGES; do
  if [[ $storage == sqlite ]]; then base_hot="sqlite loop hot" base_spread="sqlite loop spread"; else base_hot="pgbench hot" base_spread="pgbench spread"; fi
  get=$(rate "$storage get")
  row "$storage hot debits/s" "$(rate "$storage hot")" "$storage GET ceiling/s" "$get"
  row "$storage spread debits/s" "$(rate "$storage spread")" "$storage GET ceiling/s" "$get"
  row "$storage hot debits/s" "$(rate "$storage hot")" "$base_hot/s" "$(fig "$base_hot")"
  row "$storage spread debits/s" "$(rate "$storage spread")" "$base_spread/s" "$(fig "$base_spread")"
  row "$storage hot p99 ms" "$(col "$storage hot" 10)" "target ms" 20
  row "$storage spread p99 ms" "$(col "$storage spread" 10)" "target ms" 20
  row "$storage batch debits/s" "$(rate "$storage batch")" "target/s" "$([[ $storage == sqlite ]] && echo 100000 || echo 50000)"
  row "$storage balance reads/s under debits" "$(rate "$storage reads reads")" "$storage GET ceiling/s" "$get"
  row "$storage balance read p99 ms under debits" "$(col "$storage reads reads" 10)" "target ms" 5
  row "$storage server CPU us/debit (hot)" "$(col "$storage hot" 14)" "target us" 150
  row "$storage server CPU us/debit (spread)" "$(col "$storage spread" 14)" "target us" 150
  row "$storage server CPU us/debit (batch)" "$(col "$storage batch" 14)" "target us" 150
  row "$storage bytes/entry as written" "$(fig "$storage bytes/entry written")" "target bytes" 2048
  row "$storage bytes/entry pruned" "$(fig "$storage bytes/entry pruned")" "target bytes" 1024
  row "$storage peak RSS MB" "$(fig "$storage peak RSS MB")" "target MB" 300
  row "$storage big wallet debits/s" "$(rate "$storage big")" "$storage hot debits/s" "$(rate "$storage hot")"
done
echo
while IFS=$'\t' read -r storage rc; do
  if [[ $rc == 0 ]]; then echo "verify $storage: OK (exit 0)"
  elif [[ $rc =~ ^[0-9]+$ ]]; then echo "verify $storage: FAILED (exit $rc)"
  else echo "verify $storage: $rc"; fi
done <"$VERIFY"

exit "$FAILED"
