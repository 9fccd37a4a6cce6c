#!/usr/bin/env bash
# Runs every test: builds the TypeScript packages and the React example (whose page a browser test drives), runs
# the .NET suites on SQLite and on a throwaway PostgreSQL, then the @flexprice/sdk compatibility test and the
# @coffer/client and @coffer/react tests against a running Coffer. Installs what a fresh Debian machine lacks.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

log() { printf '\n== %s\n' "$*"; }

apt_install() {
  log "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "$@" >/dev/null
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
[ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || apt_install postgresql
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
command -v curl >/dev/null || apt_install curl
# pdftotext and pdfinfo read the invoice PDFs back in the tests, as an independent reader.
command -v pdftotext >/dev/null && command -v pdfinfo >/dev/null || apt_install poppler-utils
# The dashboard and portal tests drive Debian's Chromium through Playwright (never a browser download).
[ -x /usr/bin/chromium ] || apt_install chromium
# The PostgreSQL tests reach the database through Debian's PgBouncer in transaction pooling mode.
[ -x /usr/sbin/pgbouncer ] || apt_install pgbouncer

# A throwaway PostgreSQL on a private port and data folder, stopped and removed on exit.
PG_BIN=$(pg_bin)
PG_PORT=${COFFER_TEST_PG_PORT:-55432}
WORK=$(mktemp -d /tmp/coffer-test.XXXXXX)
chmod 755 "$WORK"
PGDATA="$WORK/pgdata"
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$WORK" postgres
  install -d -o postgres "$PGDATA" "$WORK/pgbouncer"
else
  mkdir -p "$PGDATA" "$WORK/pgbouncer"
fi
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -f "$WORK/pgbouncer/pgbouncer.pid" ] && kill "$(cat "$WORK/pgbouncer/pgbouncer.pid")" 2>/dev/null || true
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres -A trust --no-sync >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -o \
  "-p $PG_PORT -k $PGDATA -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off" start >/dev/null
export COFFER_TEST_POSTGRES="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=postgres"

# PgBouncer in transaction pooling mode in front of it: every PostgreSQL test talks to the database through it, so
# nothing Coffer does may rely on session state. Each test logs in as a role of its own (CofferApp), whose default
# search_path is its schema; the pooler keeps one pool per role and asks PostgreSQL for the roles (auth_user).
BOUNCER_PORT=$((PG_PORT + 1))
cat >"$WORK/pgbouncer/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$PG_PORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
pool_mode = transaction
auth_type = trust
auth_user = postgres
auth_file = $WORK/pgbouncer/users.txt
max_client_conn = 4000
default_pool_size = 20
max_db_connections = 200
server_idle_timeout = 5
logfile = $WORK/pgbouncer/pgbouncer.log
pidfile = $WORK/pgbouncer/pgbouncer.pid
EOF
echo '"postgres" ""' >"$WORK/pgbouncer/users.txt"
log "starting PgBouncer (transaction pooling) on 127.0.0.1:$BOUNCER_PORT"
as_pg /usr/sbin/pgbouncer -d "$WORK/pgbouncer/pgbouncer.ini"
export COFFER_TEST_PGBOUNCER="Host=127.0.0.1;Port=$BOUNCER_PORT;Database=postgres"

log "@coffer/client, @coffer/react and the React example (examples/react-wallet)"
# @coffer/react builds against the built client, so the workspaces build in order: client, then react. The example
# links both, and its built page (dist/) is what ReactWalletExampleTests serves to Chromium, so all of it comes first.
(cd clients && npm ci --no-audit --no-fund --loglevel=error && npm run build --workspace @coffer/client --silent \
  && npm run build --workspace @coffer/react --silent)
(cd examples/react-wallet && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)

log "dotnet test (ledger properties; HTTP on SQLite and PostgreSQL)"
# The runtime packs of the one-file build, fetched here so that SingleFileTests publishes from this machine's
# package folder alone (tests reach nothing but loopback).
dotnet restore src/Coffer/Coffer.csproj -r linux-x64 -p:SelfContained=true -p:PublishSingleFile=true -v quiet
dotnet build Coffer.slnx -c Release -v quiet -nologo
# The minimal console logger prints each failure with its message and stack, and nothing for passing tests.
dotnet test Coffer.slnx -c Release --no-build -v quiet --nologo --logger "console;verbosity=minimal" 2>&1 | tee "$WORK/dotnet-test.log"
grep -q "Failed!" "$WORK/dotnet-test.log" && exit 1

log "@flexprice/sdk compatibility test (SQLite, then PostgreSQL)"
(cd tests/sdk-compat && npm ci --no-audit --no-fund --loglevel=error)
run_compat() {
  local database=$1 port=$2 key="sk_compat_$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
  COFFER_DATABASE="$database" COFFER_API_KEY="$key" COFFER_WEBHOOK_POLL_MS=100 COFFER_WEBHOOKS_ALLOW_PRIVATE=true \
    dotnet src/Coffer/bin/Release/net10.0/Coffer.dll --urls "http://127.0.0.1:$port" >"$WORK/coffer-$port.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
  (cd tests/sdk-compat && COFFER_URL="http://127.0.0.1:$port" COFFER_API_KEY="$key" node --test) | tee "$WORK/node-$port.log"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  # The command-line tools against the database the SDK just filled.
  COFFER_DATABASE="$database" dotnet src/Coffer/bin/Release/net10.0/Coffer.dll verify
  COFFER_DATABASE="$database" dotnet src/Coffer/bin/Release/net10.0/Coffer.dll tenants create "acme-$port" --admin-email "ops-$port@acme.test" \
    | tee "$WORK/tenant.txt"
  grep -q "api key (shown once): sk_" "$WORK/tenant.txt"
  grep -q "dashboard operator ops-$port@acme.test, password (shown once): " "$WORK/tenant.txt"
}
run_compat "$WORK/compat.db" 5181
as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE compat" >/dev/null
run_compat "Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=compat" 5182

log "@coffer/client and @coffer/react against a running Coffer (SQLite)"
client_db="$WORK/client.db" client_key="sk_client_$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
COFFER_DATABASE="$client_db" COFFER_API_KEY="$client_key" COFFER_WEBHOOK_POLL_MS=100 COFFER_WEBHOOKS_ALLOW_PRIVATE=true \
  dotnet src/Coffer/bin/Release/net10.0/Coffer.dll --urls "http://127.0.0.1:5183" >"$WORK/coffer-5183.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:5183/health" >/dev/null && break; sleep 0.2; done
(cd clients/client && COFFER_URL="http://127.0.0.1:5183" COFFER_API_KEY="$client_key" NO_COLOR=1 npx vitest run) | tee "$WORK/vitest.log"
(cd clients/react && COFFER_URL="http://127.0.0.1:5183" COFFER_API_KEY="$client_key" NO_COLOR=1 npx vitest run) | tee "$WORK/vitest-react.log"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
COFFER_DATABASE="$client_db" dotnet src/Coffer/bin/Release/net10.0/Coffer.dll verify

passed=$(cat <(grep -oP 'Passed:\s+\K[0-9]+' "$WORK/dotnet-test.log") <(grep -ohP '^# pass \K[0-9]+' "$WORK"/node-*.log) \
  <(grep -ohP '^\s*Tests\s+\K[0-9]+(?= passed)' "$WORK"/vitest*.log) | awk '{s+=$1} END {print s+0}')
log "all tests passed"
echo "tests: $passed passed, 0 failed"
