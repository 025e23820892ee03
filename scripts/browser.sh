#!/usr/bin/env bash
# Ensures a headless browser for the admin-tool tests: Debian's `chromium` (apt-get, as root),
# unless CHROMIUM points at one. Idempotent; prints the binary's path.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

log() { printf '[browser] %s\n' "$*" >&2; }
die() { printf '[browser] error: %s\n' "$*" >&2; exit 1; }

bin="${CHROMIUM:-$(command -v chromium || true)}"
if [ -z "$bin" ]; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || die "no chromium: install Debian's chromium package (or set CHROMIUM)"
  log "installing Debian's chromium (apt-get)"
  t0=$SECONDS
  apt_install chromium fonts-liberation || die "apt-get install chromium failed"
  log "chromium installed in $((SECONDS - t0)) s"
  bin="$(command -v chromium)"
fi
echo "$bin"
