#!/usr/bin/env bash
# Ensures a Docker engine answers, for the docker stacks and their tests. Idempotent:
#   - an engine that already answers (`docker info`) is used as it is (DOCKER_HOST is honoured);
#   - else, as root on Debian, Debian's `docker.io` is installed when `dockerd` is missing (a
#     `docker` client alone may already be on PATH) and `dockerd` is started in the background,
#     logging to $NEXUS_CACHE/run/dockerd.log, then we wait until `docker info` answers.
#   bash scripts/docker-engine.sh          ensure the engine
#   bash scripts/docker-engine.sh stop     stop a dockerd this script started
#   bash scripts/docker-engine.sh compose  also ensure Debian's docker-compose (the benchmark's baseline)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

DOCKERD_LOG="$NEXUS_RUN/dockerd.log"
DOCKERD_PID="$NEXUS_RUN/dockerd.pid"

log() { printf '[docker-engine] %s\n' "$*" >&2; }
die() { printf '[docker-engine] error: %s\n' "$*" >&2; exit 1; }

engine_answers() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }

install_engine() {
  [ "$(id -u)" = 0 ] || die "no Docker engine answers and dockerd is not installed: install Docker (as root: apt-get install docker.io) or set DOCKER_HOST"
  command -v apt-get >/dev/null || die "no Docker engine answers and this is not a Debian-like system: install Docker and start it"
  log "installing Debian's docker.io (apt-get)"
  local t0=$SECONDS
  apt_install docker.io iptables || die "apt-get install docker.io failed"
  log "docker.io installed in $((SECONDS - t0)) s"
}

start_engine() {
  command -v dockerd >/dev/null || install_engine
  [ "$(id -u)" = 0 ] || die "dockerd must be started as root (or point DOCKER_HOST at a running engine)"
  mkdir -p "$NEXUS_RUN"
  if [ -s "$DOCKERD_PID" ] && kill -0 "$(cat "$DOCKERD_PID")" 2>/dev/null; then
    log "dockerd (pid $(cat "$DOCKERD_PID")) is starting"
  else
    log "starting dockerd (log: $DOCKERD_LOG)"
    # The Debian package's containerd is started by dockerd itself when no service manager runs.
    nohup dockerd --host unix:///var/run/docker.sock >>"$DOCKERD_LOG" 2>&1 </dev/null &
    echo $! > "$DOCKERD_PID"
  fi
  for _ in $(seq 120); do
    engine_answers && { log "engine ready ($(docker info --format '{{.ServerVersion}}, {{.Driver}}, cgroup v{{.CgroupVersion}}'))"; return 0; }
    kill -0 "$(cat "$DOCKERD_PID")" 2>/dev/null || { tail -20 "$DOCKERD_LOG" >&2; die "dockerd exited (see $DOCKERD_LOG)"; }
    sleep 0.5
  done
  die "dockerd did not answer within 60 s (see $DOCKERD_LOG)"
}

stop_engine() {
  if [ -s "$DOCKERD_PID" ] && kill -0 "$(cat "$DOCKERD_PID")" 2>/dev/null; then
    kill "$(cat "$DOCKERD_PID")"
    log "stopped dockerd"
  fi
  rm -f "$DOCKERD_PID"
}

ensure_compose() {
  command -v docker-compose >/dev/null && return 0
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || die "docker-compose is missing: install it (Debian: apt-get install docker-compose)"
  log "installing Debian's docker-compose (apt-get)"
  apt_install docker-compose || die "apt-get install docker-compose failed"
}

case "${1:-start}" in
  start) engine_answers || start_engine ;;
  compose) engine_answers || start_engine; ensure_compose ;;
  stop) stop_engine ;;
  *) die "usage: docker-engine.sh [start|stop|compose]" ;;
esac
