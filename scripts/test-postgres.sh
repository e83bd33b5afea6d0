#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: its own data folder, loopback only.
#   scripts/test-postgres.sh start|stop|halt|restart|url   (halt stops the server and keeps its data)
set -euo pipefail
port=${FARM_TEST_POSTGRES_PORT:-55432}
dir=${FARM_TEST_POSTGRES_DIR:-/tmp/manimfarm-test-postgres}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
url="postgres://postgres@127.0.0.1:$port/postgres"

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() { [ -f "$dir/data/postmaster.pid" ] && as_postgres "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; }

start() {
  [ -n "$bin" ] || { echo "test-postgres: PostgreSQL is not installed (scripts/install-deps.sh --test-tools)" >&2; exit 1; }
  if running; then return; fi
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
  fi
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
    "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
}

stop() {
  if running; then as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null; fi
}

case "${1:-}" in
  start) start; echo "$url" ;;
  stop) stop; rm -rf "$dir" ;;
  halt) stop ;;
  restart) stop; start ;;
  url) echo "$url" ;;
  *) echo "usage: $0 start|stop|halt|restart|url" >&2; exit 2 ;;
esac
