#!/usr/bin/env bash
# Starts the servers that the tests and the local stack need, if they are not up already:
# a private PostgreSQL, a private Redis and the MongoDB-wire servers, on loopback only:
#   - DocumentDB (a second private PostgreSQL, with the extension) with FerretDB v2 in front
#     ($NEXUS_DOCDB_PORT, what MONGODB_URL names), and a second FerretDB v2 that connects as a
#     read-only PostgreSQL role ($NEXUS_DOCDB_READONLY_PORT, MONGODB_READONLY_URL): one FerretDB
#     does not enforce user roles, the read-only one does. Built by scripts/build-documentdb.sh;
#   - FerretDB 1.24 with SQLite ($NEXUS_MONGO_PORT), started too, and MONGODB_URL's fallback when
#     DocumentDB is not built (set NEXUS_MONGO_SERVER=ferretdb1 to choose it anyway).
# Idempotent. DATABASE_URL, REDIS_URL or MONGODB_URL in the environment point at a server of your
# own instead, and that server is then neither started nor checked here.
#   bash scripts/services.sh          start what is missing, wait until each answers
#   bash scripts/services.sh cluster  start a local Redis Cluster too (three masters with a replica
#                                     each, ports $NEXUS_REDIS_CLUSTER_PORT..+5; the tests that need
#                                     it run this themselves)
#   bash scripts/services.sh stop     stop the private instances (the cluster too)
#   bash scripts/services.sh urls     print the URLs (for `eval "$(bash scripts/services.sh urls)"`)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# `|| true`: with pipefail a missing tree would end the script here, silently (even `urls`).
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)}"
PG_DATA="$NEXUS_PG_DATA"
REDIS_DIR="$NEXUS_RUN/redis"
MONGO_DIR="$NEXUS_RUN/ferretdb"
FERRETDB_BIN="$NEXUS_CACHE/ferretdb/$FERRETDB_VERSION/nexus-ferretdb"
DOCDB_TREE="$NEXUS_DOCUMENTDB_HOME/current"
DOCDB_PG_BIN="$(ls -d "$DOCDB_TREE"/usr/lib/postgresql/*/bin 2>/dev/null | tail -1 || true)"
DOCDB_PG_DATA="$NEXUS_DOCDB_PG_DATA"
DOCDB_RUN="$NEXUS_RUN/documentdb"
FERRETDB2_BIN="$NEXUS_CACHE/ferretdb/$FERRETDB2_VERSION/ferretdb"
# The PostgreSQL role the read-only FerretDB connects as (DocumentDB's read-only role).
DOCDB_READONLY_ROLE=nexus_docdb_readonly

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

# A loopback PostgreSQL cluster of ours: initdb once (superuser without a password over loopback,
# every other role proves its password, so role passwords in the stacks are really checked), then
# start it if it is down and wait until it answers. PG_CLUSTER_FRESH=1 when initdb ran.
# usage: pg_cluster_up LABEL BIN DATA PORT EXTRA_HBA EXTRA_CONF
pg_cluster_up() {
  local label=$1 bin=$2 data=$3 port=$4 extra_hba=$5 extra_conf=$6
  PG_CLUSTER_FRESH=0
  if [ ! -s "$data/PG_VERSION" ]; then
    log "initdb $data ($label)"
    PG_CLUSTER_FRESH=1
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres: "$data"
    chmod 700 "$data"
    as_pg_owner "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    {
      echo "local all all trust"
      echo "host  all postgres 127.0.0.1/32 trust"
      [ -z "$extra_hba" ] || echo "$extra_hba"
      echo "host  all all      127.0.0.1/32 scram-sha-256"
    } > "$data/pg_hba.conf"
    cat >> "$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
$extra_conf
CONF
  fi
  if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
    log "starting $label on 127.0.0.1:$port"
    as_pg_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null
  fi
  wait_for "$label" 120 "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"
}

# A background server of ours, started when nothing answers on its port.
# usage: daemon_up LABEL PORT DIR NAME COMMAND...   (DIR/NAME.log and DIR/NAME.pid)
daemon_up() {
  local label=$1 port=$2 dir=$3 name=$4; shift 4
  mkdir -p "$dir"
  if ! port_answers "$port"; then
    log "starting $label on 127.0.0.1:$port"
    nohup "$@" >"$dir/$name.log" 2>&1 </dev/null &
    echo $! > "$dir/$name.pid"
  fi
  wait_for "$label" 120 port_answers "$port"
}

start_postgres() {
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL server binaries not found (set PG_BIN, or install postgresql)"
  mkdir -p "$NEXUS_RUN"
  pg_cluster_up PostgreSQL "$PG_BIN" "$PG_DATA" "$NEXUS_PG_PORT" "" ""
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

CLUSTER_DIR="$NEXUS_RUN/redis-cluster"
cluster_ports() { seq "$NEXUS_REDIS_CLUSTER_PORT" $((NEXUS_REDIS_CLUSTER_PORT + 5)); }
cluster_ok() { # every node answers and says the cluster is ok with all slots and 6 nodes; 3 of them masters, each with a replica in sync
  local info port
  for port in $(cluster_ports); do
    # A node that was just restarted or re-joined says cluster_state:fail for a while even when the
    # seed node is happy, and a client may ask any node.
    info=$(redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null) || return 1
    grep -q 'cluster_state:ok' <<<"$info" && grep -q 'cluster_slots_assigned:16384' <<<"$info" && grep -q 'cluster_known_nodes:6' <<<"$info" || return 1
    # A replica still in its first sync cannot take over (a failover waits for it, then gives up):
    # the cluster is ready when every master has a replica and every replica's link is up.
    info=$(redis-cli -h 127.0.0.1 -p "$port" info replication 2>/dev/null) || return 1
    if grep -q '^role:master' <<<"$info"; then grep -q '^connected_slaves:[1-9]' <<<"$info" || return 1
    else grep -q '^master_link_status:up' <<<"$info" || return 1; fi
  done
  [ "$(redis-cli -h 127.0.0.1 -p "$NEXUS_REDIS_CLUSTER_PORT" cluster nodes | grep -v fail | grep -c master)" = 3 ]
}

# A real Redis Cluster on loopback: six redis-server processes with cluster-enabled (bus ports
# 1000 above the client ports: the default +10000 is past 65535 here), joined by
# `redis-cli --cluster create --cluster-replicas 1`. Idempotent: running nodes are kept; nodes
# that already formed the cluster (their nodes.conf) rejoin it when restarted. A cluster that is
# still not healthy after that (a test that killed nodes and stopped half way, nodes of another
# run's ports, a half-finished create) is taken down and created anew: it holds test data only.
cluster_nodes_up() {
  local port
  for port in $(cluster_ports); do
    mkdir -p "$CLUSTER_DIR/$port"
    if ! redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
      log "starting Redis Cluster node on 127.0.0.1:$port"
      [ -f "$CLUSTER_DIR/$port/redis.log" ] && mv -f "$CLUSTER_DIR/$port/redis.log" "$CLUSTER_DIR/$port/redis.log.previous"
      # No diskless-sync delay (5 s by default, to gather replicas): each master has one, which syncs at once.
      redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --cluster-enabled yes --cluster-port $((port + 1000)) \
        --cluster-config-file "$CLUSTER_DIR/$port/nodes.conf" --cluster-node-timeout 5000 --save "" --appendonly no --repl-diskless-sync-delay 0 \
        --dir "$CLUSTER_DIR/$port" --pidfile "$CLUSTER_DIR/$port/redis.pid" --logfile "$CLUSTER_DIR/$port/redis.log"
    fi
  done
  for port in $(cluster_ports); do
    for _ in $(seq 120); do
      redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG && break
      # A port taken by something else: say which, rather than wait for a node that has exited.
      if grep -q "Address already in use" "$CLUSTER_DIR/$port/redis.log" 2>/dev/null; then
        die "Redis Cluster node $port could not start: $(grep -m1 'Address already in use' "$CLUSTER_DIR/$port/redis.log" | sed 's/^.*# //'). Free that port, or choose other ports with NEXUS_REDIS_CLUSTER_PORT (six ports from it, and their cluster bus ports 1000 above)"
      fi
      sleep 0.5
    done
    redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG || die "Redis Cluster node $port did not answer (log: $CLUSTER_DIR/$port/redis.log)"
  done
  # A server that answers on one of the ports but is not a node of ours (another Redis, another
  # run's cluster with other files) is left alone: creating the cluster would empty it.
  for port in $(cluster_ports); do
    [ "$(redis-cli -h 127.0.0.1 -p "$port" config get cluster-config-file 2>/dev/null | sed -n 2p)" = "$CLUSTER_DIR/$port/nodes.conf" ] ||
      die "127.0.0.1:$port answers, but not as this project's Redis Cluster node (its cluster-config-file is not $CLUSTER_DIR/$port/nodes.conf): stop that server, or choose other ports with NEXUS_REDIS_CLUSTER_PORT"
  done
}

cluster_create() {
  local port
  log "creating the Redis Cluster (3 masters, 1 replica each)"
  for port in $(cluster_ports); do redis-cli -h 127.0.0.1 -p "$port" flushall >/dev/null; redis-cli -h 127.0.0.1 -p "$port" cluster reset hard >/dev/null; done
  redis-cli --cluster create $(for port in $(cluster_ports); do printf '127.0.0.1:%s ' "$port"; done) \
    --cluster-replicas 1 --cluster-yes >"$CLUSTER_DIR/create.log" 2>&1 || { cat "$CLUSTER_DIR/create.log" >&2; die "redis-cli --cluster create failed"; }
}

cluster_healthy_within() { # tries (of half a second)
  local _
  for _ in $(seq "$1"); do cluster_ok && return 0; sleep 0.5; done
  return 1
}

start_cluster() {
  command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"
  local port fresh=0
  cluster_nodes_up
  for port in $(cluster_ports); do
    # A node that knows only itself and has no slots has never joined: the cluster must be created.
    [ "$(redis-cli -h 127.0.0.1 -p "$port" cluster info | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')" = 1 ] && fresh=1
  done
  if [ "$fresh" = 1 ] && ! cluster_ok; then
    cluster_create
  elif ! cluster_healthy_within 60; then
    log "the running Redis Cluster is not healthy after 30 s; taking it down and creating it anew. Its nodes said:"
    redis-cli -h 127.0.0.1 -p "$NEXUS_REDIS_CLUSTER_PORT" cluster nodes >&2 2>/dev/null || true
    for port in $(cluster_ports); do
      redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    done
    for port in $(cluster_ports); do
      wait_for "Redis Cluster node $port to stop" 60 sh -c "! redis-cli -h 127.0.0.1 -p $port ping"
      rm -f "$CLUSTER_DIR/$port/nodes.conf"
    done
    cluster_nodes_up
    cluster_create
  fi
  if ! cluster_healthy_within 240; then
    for port in $(cluster_ports); do
      echo "node $port: $(redis-cli -h 127.0.0.1 -p "$port" cluster info 2>&1 | tr -d '\r' | grep -E '^cluster_(state|known_nodes|slots_assigned):' | tr '\n' ' ')" >&2
    done
    redis-cli -h 127.0.0.1 -p "$NEXUS_REDIS_CLUSTER_PORT" cluster nodes >&2 2>/dev/null || true
    die "the Redis Cluster did not reach cluster_state:ok on every node with 3 masters (logs under $CLUSTER_DIR)"
  fi
}

start_ferretdb() {
  [ -x "$FERRETDB_BIN" ] || die "FerretDB is not built yet: run scripts/bootstrap.sh"
  # FerretDB speaks the wire protocol; a TCP accept is what we can check without mongosh.
  daemon_up "FerretDB (SQLite backend)" "$NEXUS_MONGO_PORT" "$MONGO_DIR" ferretdb \
    "$FERRETDB_BIN" --listen "127.0.0.1:$NEXUS_MONGO_PORT" --data-dir "$MONGO_DIR/data"
}

documentdb_built() {
  [ -f "$DOCDB_TREE/.complete" ] && [ -n "$DOCDB_PG_BIN" ] && [ -x "$FERRETDB2_BIN" ]
}

# Which server MONGODB_URL names: DocumentDB when it is built, else FerretDB 1.24.
mongo_server() {
  case "${NEXUS_MONGO_SERVER:-auto}" in
    ferretdb1) echo ferretdb1 ;;
    documentdb) echo documentdb ;;
    *) if documentdb_built; then echo documentdb; else echo ferretdb1; fi ;;
  esac
}

port_answers() { # port
  node -e "
    const s = require('net').connect($1, '127.0.0.1');
    s.on('connect', () => { s.end(); process.exit(0) }); s.on('error', () => process.exit(1));"
}

start_documentdb() {
  documentdb_built || die "DocumentDB is not built: run scripts/build-documentdb.sh (or set NEXUS_MONGO_SERVER=ferretdb1)"
  mkdir -p "$DOCDB_RUN"
  # Only the two FerretDB gateways connect over loopback, as these two roles; the users that
  # Mongo clients create are PostgreSQL roles too, checked by FerretDB with SCRAM.
  # DocumentDB's settings as FerretDB's own image sets them, plus: pg_cron runs its jobs (TTL
  # expiry, index builds) over the socket, and DocumentDB opens loopback connections of its own.
  pg_cluster_up "PostgreSQL with DocumentDB" "$DOCDB_PG_BIN" "$DOCDB_PG_DATA" "$NEXUS_DOCDB_PG_PORT" \
    "host  all $DOCDB_READONLY_ROLE 127.0.0.1/32 trust" \
    "shared_preload_libraries = 'pg_cron,pg_documentdb_core,pg_documentdb'
cron.database_name = 'postgres'
cron.host = '$DOCDB_PG_DATA'
documentdb.localhost_connection_string = 'host=$DOCDB_PG_DATA port=$NEXUS_DOCDB_PG_PORT'
documentdb.indexBuildScheduleInSec = 60
documentdb.enableCompact = true
documentdb.enableLetAndCollationForQueryMatch = true
documentdb.enableNowSystemVariable = true
documentdb.enableSortbyIdPushDownToPrimaryKey = true
documentdb.enableSchemaValidation = true
documentdb.enableBypassDocumentValidation = true
documentdb.enableUserCrud = true
documentdb.maxUserLimit = 1000"
  # The read-only role: DocumentDB's, plus pg_read_all_data (what DocumentDB's own createUser
  # grants a readAnyDatabase user: its schemas' USAGE and SELECT on every collection table).
  if [ "$PG_CLUSTER_FRESH" = 1 ] || ! as_pg_owner "$DOCDB_PG_BIN/psql" -h "$DOCDB_PG_DATA" -p "$NEXUS_DOCDB_PG_PORT" -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member JOIN pg_roles g ON g.oid = m.roleid
       WHERE r.rolname = '$DOCDB_READONLY_ROLE' AND g.rolname = 'pg_read_all_data'" 2>/dev/null | grep -q 1; then
    PGOPTIONS="-c client_min_messages=warning" as_pg_owner "$DOCDB_PG_BIN/psql" -q -v ON_ERROR_STOP=1 -h "$DOCDB_PG_DATA" -p "$NEXUS_DOCDB_PG_PORT" -U postgres -d postgres <<SQL >/dev/null
CREATE EXTENSION IF NOT EXISTS documentdb CASCADE;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DOCDB_READONLY_ROLE') THEN
    CREATE ROLE $DOCDB_READONLY_ROLE LOGIN IN ROLE documentdb_readonly_role;
  END IF;
END \$\$;
GRANT pg_read_all_data TO $DOCDB_READONLY_ROLE;
SQL
  fi
  start_ferretdb2 main "$NEXUS_DOCDB_PORT" postgres
  start_ferretdb2 readonly "$NEXUS_DOCDB_READONLY_PORT" "$DOCDB_READONLY_ROLE"
}

start_ferretdb2() { # instance name, port, PostgreSQL role
  local name=$1 port=$2 role=$3
  # --no-auth: clients need no login (as with the other test servers); users that log in are
  # still checked against their SCRAM credentials.
  daemon_up "FerretDB $FERRETDB2_VERSION ($name, PostgreSQL role $role)" "$port" "$DOCDB_RUN/ferretdb-$name" ferretdb \
    "$FERRETDB2_BIN" --postgresql-url="postgres://$role@127.0.0.1:$NEXUS_DOCDB_PG_PORT/postgres" \
    --listen-addr="127.0.0.1:$port" --debug-addr=- --state-dir="$DOCDB_RUN/ferretdb-$name" --telemetry=disable \
    --no-auth --log-level=warn
}

print_urls() {
  echo "export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:$NEXUS_PG_PORT/postgres}"
  echo "export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:$NEXUS_REDIS_PORT}"
  if [ -n "${MONGODB_URL:-}" ]; then
    echo "export MONGODB_URL=$MONGODB_URL"
    [ -z "${MONGODB_READONLY_URL:-}" ] || echo "export MONGODB_READONLY_URL=$MONGODB_READONLY_URL"
  elif [ "$(mongo_server)" = documentdb ]; then
    echo "export MONGODB_URL=mongodb://127.0.0.1:$NEXUS_DOCDB_PORT/"
    echo "export MONGODB_READONLY_URL=mongodb://127.0.0.1:$NEXUS_DOCDB_READONLY_PORT/"
  else
    echo "export MONGODB_URL=mongodb://127.0.0.1:$NEXUS_MONGO_PORT/"
  fi
  # A cluster of your own, when you name one; otherwise the cluster tests start the local one.
  [ -z "${REDIS_CLUSTER_URL:-}" ] || echo "export REDIS_CLUSTER_URL=$REDIS_CLUSTER_URL"
}

stop_all() {
  [ -s "$PG_DATA/postmaster.pid" ] && as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast stop >/dev/null || true
  redis-cli -h 127.0.0.1 -p "$NEXUS_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  for port in $(cluster_ports); do redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true; done
  [ -s "$MONGO_DIR/ferretdb.pid" ] && kill "$(cat "$MONGO_DIR/ferretdb.pid")" 2>/dev/null || true
  for f in "$DOCDB_RUN"/ferretdb-*/ferretdb.pid; do [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  [ -s "$DOCDB_PG_DATA/postmaster.pid" ] && as_pg_owner "$DOCDB_PG_BIN/pg_ctl" -D "$DOCDB_PG_DATA" -m fast stop >/dev/null || true
  log "stopped"
}

case "${1:-start}" in
  start)
    [ -n "${DATABASE_URL:-}" ] || start_postgres
    [ -n "${REDIS_URL:-}" ] || start_redis
    if [ -z "${MONGODB_URL:-}" ]; then
      if [ "$(mongo_server)" = ferretdb1 ] || [ -x "$FERRETDB_BIN" ]; then start_ferretdb; fi
      [ "$(mongo_server)" = ferretdb1 ] || start_documentdb
    fi
    ;;
  cluster) [ -n "${REDIS_CLUSTER_URL:-}" ] || start_cluster ;;
  stop) stop_all ;;
  urls) print_urls ;;
  *) die "usage: services.sh [start|cluster|stop|urls]" ;;
esac
