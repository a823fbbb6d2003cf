#!/bin/sh
# Start throwaway PostgreSQL and Redis servers on loopback, run "$@" against them, stop them.
set -eu
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
T=$(mktemp -d); AS_PG=""
[ "$(id -u)" = 0 ] && { chown postgres "$T"; AS_PG="runuser -u postgres --"; }
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PGPORT=$(freeport); RPORT=$(freeport)
$AS_PG "$PGBIN/initdb" -D "$T/data" -U postgres -A trust --no-sync -E UTF8 --locale=C >/dev/null
$AS_PG "$PGBIN/pg_ctl" -D "$T/data" -l "$T/pg.log" -w -o "-h 127.0.0.1 -p $PGPORT -k $T -F -c max_connections=200" start >/dev/null
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --pidfile "$T/redis.pid" --logfile "$T/redis.log"
trap '$AS_PG "$PGBIN/pg_ctl" -D "$T/data" -m immediate stop >/dev/null; kill "$(cat "$T/redis.pid")"; rm -rf "$T"' EXIT
export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres" REDIS_URL="redis://127.0.0.1:$RPORT/0"
# For the chaos suite's restarts (tests/chaos/test_server_restarts.py): where the servers live.
export TEST_SERVERS_DIR="$T" TEST_PG_BIN="$PGBIN" TEST_REDIS_PORT="$RPORT"
"$@"
