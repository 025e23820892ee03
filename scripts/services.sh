#!/usr/bin/env bash
# Starts the servers that the tests and the local stack need, if they are not up already:
# a private PostgreSQL, a private Redis and FerretDB (the MongoDB-wire server), on loopback only.
# Idempotent. DATABASE_URL, REDIS_URL or MONGODB_URL in the environment point at a server of your
# own instead, and that server is then neither started nor checked here.
#   bash scripts/services.sh          start what is missing, wait until each answers
#   bash scripts/services.sh stop     stop the private instances
#   bash scripts/services.sh urls     print the URLs (for `eval "$(bash scripts/services.sh urls)"`)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
PG_DATA="$NEXUS_PG_DATA"
REDIS_DIR="$NEXUS_RUN/redis"
MONGO_DIR="$NEXUS_RUN/ferretdb"
FERRETDB_BIN="$NEXUS_CACHE/ferretdb/$FERRETDB_VERSION/nexus-ferretdb"

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

# Runs a command as the postgres system user when we are root (initdb refuses root).
as_pg_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

wait_for() { # name, tries, command...
  local name=$1 tries=$2; shift 2
  for _ in $(seq "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "$name did not answer (see the log under $NEXUS_RUN)"
}

start_postgres() {
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL server binaries not found (set PG_BIN, or install postgresql)"
  mkdir -p "$NEXUS_RUN"
  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    log "initdb $PG_DATA"
    mkdir -p "$PG_DATA"
    [ "$(id -u)" = 0 ] && chown postgres: "$PG_DATA"
    chmod 700 "$PG_DATA"
    as_pg_owner "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    # The superuser connects without a password over loopback (test server); every other role
    # must prove its password, so role passwords in the stacks are really checked.
    cat > "$PG_DATA/pg_hba.conf" <<HBA
local all all trust
host  all postgres 127.0.0.1/32 trust
host  all all      127.0.0.1/32 scram-sha-256
HBA
    cat >> "$PG_DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $NEXUS_PG_PORT
unix_socket_directories = '$PG_DATA'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  fi
  if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$NEXUS_PG_PORT"; then
    log "starting PostgreSQL on 127.0.0.1:$NEXUS_PG_PORT"
    as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 start >/dev/null
  fi
  wait_for PostgreSQL 120 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$NEXUS_PG_PORT"
}

start_redis() {
  command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"
  mkdir -p "$REDIS_DIR"
  if ! redis-cli -h 127.0.0.1 -p "$NEXUS_REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
    log "starting Redis on 127.0.0.1:$NEXUS_REDIS_PORT"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$NEXUS_REDIS_PORT" --save "" --appendonly no \
      --dir "$REDIS_DIR" --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" --databases 16
  fi
  wait_for Redis 120 sh -c "redis-cli -h 127.0.0.1 -p $NEXUS_REDIS_PORT ping | grep -q PONG"
}

mongo_answers() { # FerretDB speaks the wire protocol; a TCP accept is what we can check without mongosh.
  node -e "
    const s = require('net').connect($NEXUS_MONGO_PORT, '127.0.0.1');
    s.on('connect', () => { s.end(); process.exit(0) }); s.on('error', () => process.exit(1));"
}

start_ferretdb() {
  [ -x "$FERRETDB_BIN" ] || die "FerretDB is not built yet: run scripts/bootstrap.sh"
  mkdir -p "$MONGO_DIR"
  if ! mongo_answers; then
    log "starting FerretDB (SQLite backend) on 127.0.0.1:$NEXUS_MONGO_PORT"
    nohup "$FERRETDB_BIN" --listen "127.0.0.1:$NEXUS_MONGO_PORT" --data-dir "$MONGO_DIR/data" \
      >"$MONGO_DIR/ferretdb.log" 2>&1 </dev/null &
    echo $! > "$MONGO_DIR/ferretdb.pid"
  fi
  wait_for FerretDB 120 mongo_answers
}

print_urls() {
  echo "export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:$NEXUS_PG_PORT/postgres}"
  echo "export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:$NEXUS_REDIS_PORT}"
  echo "export MONGODB_URL=${MONGODB_URL:-mongodb://127.0.0.1:$NEXUS_MONGO_PORT/}"
}

stop_all() {
  [ -s "$PG_DATA/postmaster.pid" ] && as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast stop >/dev/null || true
  redis-cli -h 127.0.0.1 -p "$NEXUS_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  [ -s "$MONGO_DIR/ferretdb.pid" ] && kill "$(cat "$MONGO_DIR/ferretdb.pid")" 2>/dev/null || true
  log "stopped"
}

case "${1:-start}" in
  start)
    [ -n "${DATABASE_URL:-}" ] || start_postgres
    [ -n "${REDIS_URL:-}" ] || start_redis
    [ -n "${MONGODB_URL:-}" ] || start_ferretdb
    ;;
  stop) stop_all ;;
  urls) print_urls ;;
  *) die "usage: services.sh [start|stop|urls]" ;;
esac
