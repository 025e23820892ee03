#!/usr/bin/env bash
# Installs what the project needs on a fresh machine, idempotently, from the npm registry,
# Debian's packages and the Go module proxy only (nothing else can be reached here):
#   - npm dependencies (npm ci, when node_modules is missing or older than package-lock.json);
#   - the Pulumi CLI, built with `go build` at the version of @pulumi/pulumi, cached under
#     $NEXUS_CACHE (default ~/.cache/nexus-db) by version;
#   - the Node.js language host and the provider plugins (scripts/build-plugins.sh);
#   - the dynamic-provider plugin shim that ships inside @pulumi/pulumi, beside them;
#   - the MongoDB-wire test servers: FerretDB 1.24 from tools/ferretdb, and DocumentDB with
#     FerretDB v2 (scripts/build-documentdb.sh).
# If a `pulumi` of the pinned version is already on PATH, it is used as it is.
#
# On a fresh two-core machine this is mostly Go compiling, with stretches where the cores wait: on
# module downloads, on apt-get, on a linker using one core. So three things run at once: the CLI
# and then the plugins; the plugins' module downloads (`build-plugins.sh prepare`, done before the
# CLI's compile ends); the test servers' builds (C and Go, apt-get first). The CLI is built against
# the providers' newer versions of the dependencies they share (scripts/go-align.cjs), so that
# the providers' builds reuse most of what the CLI's compiled.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$NEXUS_ROOT"

log() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] error: %s\n' "$*" >&2; exit 1; }

# --- system packages (only when missing; a machine of this kind has them) -----------------------
need_apt=()
command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || need_apt+=(golang-go)
command -v redis-server >/dev/null || need_apt+=(redis-server)
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${need_apt[*]}: install them with your package manager"
  log "apt-get install ${need_apt[*]}"
  apt_install "${need_apt[@]}" || die "apt-get install ${need_apt[*]} failed"
fi
command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"

# --- npm ------------------------------------------------------------------------------------------
if [ ! -d node_modules/@pulumi/pulumi ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
PULUMI_VERSION="$(node -p "require('./node_modules/@pulumi/pulumi/package.json').version")"
export PULUMI_ROOT="$NEXUS_CACHE/pulumi/$PULUMI_VERSION"
BIN="$PULUMI_ROOT/bin"
mkdir -p "$BIN"

# --- beside the CLI: the plugins' module downloads, the test servers' builds ----------------------
# The go.mod files the CLI and the providers are aligned to (none on a machine without the sources).
mapfile -t ALIGN_REFS < <(bash scripts/build-plugins.sh references)
# Handed down, so that build-plugins.sh does not work them out again.
NEXUS_ALIGN_REFS="$(printf '%s\n' "${ALIGN_REFS[@]}")"
export NEXUS_ALIGN_REFS
bash scripts/build-plugins.sh prepare &
prepare_pid=$!

FERRETDB_BIN="$NEXUS_CACHE/ferretdb/$FERRETDB_VERSION/nexus-ferretdb"
FERRETDB_STAMP="$FERRETDB_BIN.src-sha256"
build_test_servers() {
  local sum
  sum="$(cat tools/ferretdb/go.mod tools/ferretdb/go.sum tools/ferretdb/main.go | sha256sum | cut -d' ' -f1)"
  if [ ! -x "$FERRETDB_BIN" ] || [ "$(cat "$FERRETDB_STAMP" 2>/dev/null)" != "$sum" ]; then
    log "building FerretDB $FERRETDB_VERSION (tools/ferretdb)"
    local t=$SECONDS
    mkdir -p "$(dirname "$FERRETDB_BIN")"
    (cd tools/ferretdb && go build -trimpath -o "$FERRETDB_BIN" .)
    echo "$sum" > "$FERRETDB_STAMP"
    log "built FerretDB $FERRETDB_VERSION in $((SECONDS - t)) s"
  fi
  bash scripts/build-documentdb.sh || log "DocumentDB not built (see above): MONGODB_URL falls back to FerretDB $FERRETDB_VERSION"
}
build_test_servers &
servers_pid=$!
# Interrupted: the builds beside stop too (without job control they would ignore Ctrl-C).
trap 'trap - INT TERM; kill 0' INT TERM

# A throwaway Go module that only requires what is built; its go.sum comes from the proxy. Its other
# requirements are raised to the versions of ALIGN_REFS (scripts/go-align.cjs); the REQUIREMENTs
# stay as given.
# usage: go_build_in_wrapper DIR OUTPUT PACKAGE LDFLAGS REQUIREMENT... [-- REPLACE...]
go_build_in_wrapper() {
  local dir=$1 out=$2 pkg=$3 ldflags=$4; shift 4
  local reqs=() repls=()
  while [ $# -gt 0 ]; do
    if [ "$1" = "--" ]; then shift; repls=("$@"); break; fi
    reqs+=("$1"); shift
  done
  rm -rf "$dir" && mkdir -p "$dir"
  (
    cd "$dir"
    printf 'module nexus-db-build/wrapper\n\ngo 1.25\n' > go.mod
    for r in "${repls[@]}"; do go mod edit -replace "$r"; done
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" > tools.go
    GOFLAGS=-mod=mod go get "${reqs[@]}"
    GOFLAGS=-mod=mod go mod tidy
    if [ ${#ALIGN_REFS[@]} -gt 0 ]; then
      local raised
      raised="$(go_align_keeping "${reqs[@]}" -- "${ALIGN_REFS[@]}")" || die "aligning $pkg's dependencies failed (above)"
      log "$pkg: $raised shared dependencies raised to the providers' newest"
    fi
    go build -trimpath -o "$out" -ldflags "$ldflags" "$pkg"
  )
}

pulumi_on_path_matches() {
  local found
  found="$(command -v pulumi 2>/dev/null || true)"
  [ -n "$found" ] && [ "$found" != "$BIN/pulumi" ] && [ "$(pulumi version 2>/dev/null)" = "v$PULUMI_VERSION" ]
}

if pulumi_on_path_matches; then
  log "using $(command -v pulumi) (v$PULUMI_VERSION)"
  ln -sf "$(command -v pulumi)" "$BIN/pulumi"
  lh="$(dirname "$(command -v pulumi)")/pulumi-language-nodejs"
  [ -x "$lh" ] && ln -sf "$lh" "$BIN/pulumi-language-nodejs"
fi

if [ ! -x "$BIN/pulumi" ] || [ "$("$BIN/pulumi" version 2>/dev/null)" != "v$PULUMI_VERSION" ]; then
  log "building the Pulumi CLI v$PULUMI_VERSION (several minutes on a fresh machine)"
  cli_start=$SECONDS
  # pkg/go.mod replaces sdk with a relative path and atotto/clipboard with a fork, so
  # `go install pkg@version` is refused; a wrapper module that requires both at the same
  # version and copies the clipboard replace builds the same CLI. `-s -w` (no symbol table, no
  # DWARF), as release builds do: a shorter link, a smaller binary, the same stack traces.
  go_build_in_wrapper "$NEXUS_CACHE/build/pulumi-cli" "$BIN/pulumi" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
    "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" \
    -- "github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e"
  log "built the Pulumi CLI v$PULUMI_VERSION in $((SECONDS - cli_start)) s"
fi

# The Node.js language host and the resource provider plugins (random, tls, postgresql, docker):
# present already, cached, built from the public sources, or downloaded (scripts/build-plugins.sh).
# A failed prepare is done again by the build, which then says what failed.
wait "$prepare_pid" || log "fetching the plugins' modules failed (above): the build tries again"
bash scripts/build-plugins.sh

# The dynamic-provider plugin is a shell script inside the npm package; the CLI looks for it
# beside its own executable.
# Replaced only when it differs, and atomically: stacks running at the same time keep finding it.
shim=node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs
if ! cmp -s "$shim" "$BIN/pulumi-resource-pulumi-nodejs"; then
  install -m 755 "$shim" "$BIN/.pulumi-resource-pulumi-nodejs.new"
  mv -f "$BIN/.pulumi-resource-pulumi-nodejs.new" "$BIN/pulumi-resource-pulumi-nodejs"
fi

# --- the test servers (started above) --------------------------------------------------------------
wait "$servers_pid" || die "FerretDB $FERRETDB_VERSION did not build (above)"
log "pulumi $("$BIN/pulumi" version) at $BIN; FerretDB at $FERRETDB_BIN"
