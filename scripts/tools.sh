#!/usr/bin/env bash
# Small tools the tests use, built from their Go modules (served by the Go module proxy) and cached
# by version under $NEXUS_CACHE/tools, so a fresh clone on the same machine reuses them.
#   bash scripts/tools.sh actionlint     build actionlint if needed (and install shellcheck, which
#                                        it runs on the workflows' `run:` scripts); print its path
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-v1.7.12}"

log() { printf '[tools] %s\n' "$*" >&2; }
die() { printf '[tools] error: %s\n' "$*" >&2; exit 1; }

go_cmd() {
  if command -v go >/dev/null; then echo go
  elif [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go
  else die "Go is missing: run scripts/bootstrap.sh (it installs it) or install Go ≥ 1.25"
  fi
}

# usage: go_tool NAME VERSION PACKAGE — the binary's path, built with `go install PACKAGE@VERSION` when missing.
go_tool() {
  local name=$1 version=$2 pkg=$3
  local dir="$NEXUS_CACHE/tools/$name/$version"
  if [ ! -x "$dir/$name" ]; then
    log "building $name $version from $pkg (once per version)"
    mkdir -p "$dir"
    # Build beside, then rename: a concurrent run never sees a half-written binary.
    local tmp
    tmp="$(mktemp -d "$dir/.build.XXXXXX")"
    GOBIN="$tmp" GOFLAGS=-mod=mod "$(go_cmd)" install -trimpath "$pkg@$version"
    mv -f "$tmp/$name" "$dir/$name"
    rmdir "$tmp"
  fi
  echo "$dir/$name"
}

# shellcheck from Debian's packages, when missing and we may install it.
ensure_shellcheck() {
  command -v shellcheck >/dev/null && return 0
  [ "$(id -u)" = 0 ] || die "shellcheck is missing (actionlint checks the workflows' scripts with it): install it with your package manager"
  log "apt-get install shellcheck"
  apt_install shellcheck || die "apt-get install shellcheck failed"
}

case "${1:-}" in
  actionlint)
    ensure_shellcheck
    go_tool actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint
    ;;
  *) die "usage: tools.sh actionlint" ;;
esac
