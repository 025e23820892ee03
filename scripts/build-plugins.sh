#!/usr/bin/env bash
# The Node.js language host and the resource provider plugins the program uses, at the versions
# of their npm packages. Called by scripts/bootstrap.sh after the CLI is in place.
#
# For each part, in order:
#   1. already there (a `pulumi` of a normal machine with its plugins, or our own cache) → nothing;
#   2. built before by this script → cached under $NEXUS_CACHE/plugins/<name>/<version>;
#   3. the public sources in $NEXUS_TOOLCHAIN_SRC (default: ../shared/toolchain-src beside the
#      repository) → built with Go, once, then cached;
#   4. otherwise a download (`pulumi plugin install`, on machines that can reach the plugin server);
#   5. otherwise a clear error naming what is missing.
# Prints which parts were built and how long each took.
#
# usage: build-plugins.sh              build and install what is missing (needs the CLI)
#        build-plugins.sh prepare      for each provider to be built from the sources: unpack, align
#                                      and fetch its Go modules, no compile. Bootstrap runs it beside
#                                      the CLI's build: that compile keeps both cores busy while the
#                                      network idles, and the fetches (minutes on a fresh machine)
#                                      otherwise came between compiles, with both cores idle.
#        build-plugins.sh references   print the providers' go.mod files that the CLI and the
#                                      providers are aligned to (scripts/go-align.cjs)
#        build-plugins.sh tune NAME DIR  apply our own changes for provider NAME (below) to its
#                                      upstream unpacked in DIR
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$NEXUS_ROOT"
MODE=${1:-build}
case "$MODE" in build | prepare | references | tune) ;; *) echo "usage: build-plugins.sh [prepare|references|tune NAME DIR]" >&2; exit 2 ;; esac

log() { printf '[plugins] %s\n' "$*" >&2; }
die() { printf '[plugins] error: %s\n' "$*" >&2; exit 1; }

BIN="$PULUMI_ROOT/bin"
[ "$MODE" != build ] || [ -x "$BIN/pulumi" ] || die "the Pulumi CLI is not at $BIN yet: run scripts/bootstrap.sh"
SRC="${NEXUS_TOOLCHAIN_SRC:-$NEXUS_ROOT/../shared/toolchain-src}"
WORK="$NEXUS_CACHE/build/plugins"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local

# The plugin versions are those of the npm packages (pinned exactly in package.json), so the
# CLI never asks for a plugin it does not have.
npm_version() { node -p 'require(process.argv[1]).version' "$NEXUS_ROOT/node_modules/@pulumi/$1/package.json"; }
# The plugin version a package's resources ask for. @pulumi/docker 5.1.0 was never published to
# npm: the program uses the 5.2.0 package and asks for the 5.1.0 plugin explicitly
# (DOCKER_PLUGIN in components/docker-store.ts).
plugin_version() {
  case "$1" in
    docker) echo 5.1.0 ;;
    *) npm_version "$1" ;;
  esac
}

archive() { # the one archive in $SRC whose name starts with $1, or nothing (then the caller says what is missing)
  ls "$SRC"/"$1"*.tar.gz 2>/dev/null | head -1 || true
}

# Unpacks archive $1 into $2 (the archive holds one top folder; its contents land in $2).
unpack() {
  rm -rf "$2" && mkdir -p "$2"
  tar -xzf "$1" -C "$2" --strip-components=1
}

# Unpacks the two modules that the Terraform bridge imports and the proxy refuses; prints
# `go mod edit` arguments replacing them.
bridge_replaces() {
  local yaml dotnet
  yaml="$(archive pulumi-yaml-)"; dotnet="$(archive pulumi-language-dotnet-)"
  [ -n "$yaml" ] && [ -n "$dotnet" ] || die "pulumi-yaml-*.tar.gz or pulumi-language-dotnet-*.tar.gz missing in $SRC"
  [ -d "$WORK/pulumi-yaml" ] || unpack "$yaml" "$WORK/pulumi-yaml"
  [ -d "$WORK/pulumi-dotnet" ] || unpack "$dotnet" "$WORK/pulumi-dotnet"
  echo "-replace=github.com/pulumi/pulumi-yaml=$WORK/pulumi-yaml"
  echo "-replace=github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3=$WORK/pulumi-dotnet/pulumi-language-dotnet"
}

timed() { # what was done, command...
  local what=$1 start=$SECONDS
  shift
  "$@"
  log "$what in $((SECONDS - start)) s"
}

# --- our own changes to an upstream ----------------------------------------------------------------
# Applied after the provider repository's own patches. Each line: a file of the upstream, then a
# `sed -E` expression that must change it — an upstream that moved on stops the build here instead
# of building a plugin without the change. A plugin built with other changes (or none) is built again.
#
# docker: the Terraform provider waits a fixed 2 s after creating a network before its first read
# of it, and 2 s before its first try at removing a network or a volume, then 5 s between tries.
# Every container of a stack waits for its network (that wait was what `pulumi up` of a docker
# stack spent before its first container, bench/docker-up.bench.ts), and a destroy for its volumes.
# Each of those reads and tries says itself when it must be tried again (a swarm's overlay network
# whose options are not out yet, a volume still in use, a network with endpoints): so no wait
# before the first one, and 250 ms between them (doubling, within the same 30-s limit).
tunings() { # name
  case "$1" in
    docker)
      local net=internal/provider/resource_docker_network_funcs.go vol=internal/provider/resource_docker_volume.go
      printf '%s\t%s\n' \
        "$net" 's/^(\s*networkReadRefreshDelay\s*=\s*)2 \* time\.Second\s*$/\10 * time.Second/' \
        "$net" 's/^(\s*networkReadRefreshWaitBeforeRefreshes\s*=\s*)5 \* time\.Second\s*$/\1250 * time.Millisecond/' \
        "$net" 's/^(\s*networkRemoveRefreshDelay\s*=\s*)2 \* time\.Second\s*$/\10 * time.Second/' \
        "$net" 's/^(\s*networkRemoveRefreshWaitBeforeRefreshes\s*=\s*)5 \* time\.Second\s*$/\1250 * time.Millisecond/' \
        "$vol" 's/^(\s*volumeReadRefreshDelay\s*=\s*)2 \* time\.Second\s*$/\10 * time.Second/' \
        "$vol" 's/^(\s*volumeReadRefreshWaitBeforeRefreshes\s*=\s*)5 \* time\.Second\s*$/\1250 * time.Millisecond/'
      ;;
  esac
}

# What a plugin's tunings are (a short hash), or nothing when it has none.
tuning_level() { # name
  local t
  t="$(tunings "$1")"
  [ -z "$t" ] || printf '%s' "$t" | sha256sum | cut -c1-12
}

# Applies NAME's tunings to the unpacked upstream in DIR; fails naming the first that changes nothing.
tune_upstream() { # name, dir
  local file expr before
  while IFS=$'\t' read -r file expr; do
    [ -n "$file" ] || continue
    [ -f "$2/$file" ] || die "tuning pulumi-resource-$1: $file is not in its upstream"
    before="$(sha256sum < "$2/$file")"
    sed -E -i "$expr" "$2/$file"
    [ "$(sha256sum < "$2/$file")" != "$before" ] || die "tuning pulumi-resource-$1: \`$expr\` changes nothing in $file (the upstream moved on: look at scripts/build-plugins.sh)"
  done < <(tunings "$1")
}

if [ "$MODE" = tune ]; then
  [ $# -eq 3 ] || { echo "usage: build-plugins.sh tune NAME UPSTREAM_DIR" >&2; exit 2; }
  tune_upstream "$2" "$3"
  exit 0
fi

# --- what the CLI, the language host and the providers are aligned to ----------------------------
# The CLI (scripts/bootstrap.sh), the language host and the providers share most of their
# dependencies at slightly different versions; each is built against the newest of them among the
# four providers' go.mod files (scripts/go-align.cjs says why), so that Go's build cache compiles
# the shared packages once.
PROVIDERS=(random tls postgresql docker)
references() { # prints the path of each provider's go.mod that has its archive here
  local name src ref
  mkdir -p "$WORK/align"
  for name in "${PROVIDERS[@]}"; do
    src="$(archive "pulumi-$name-v$(plugin_version "$name")")"
    [ -n "$src" ] || continue
    ref="$WORK/align/$name.go.mod"
    [ -s "$ref" ] && [ "$ref" -nt "$src" ] || tar -xzOf "$src" --wildcards '*/provider/go.mod' > "$ref"
    echo "$ref"
  done
}

if [ "$MODE" = references ]; then
  [ ! -d "$SRC" ] || references
  exit 0
fi
REFS=()
if [ -n "${NEXUS_ALIGN_REFS+set}" ]; then # worked out by bootstrap.sh already
  [ -z "$NEXUS_ALIGN_REFS" ] || mapfile -t REFS <<< "$NEXUS_ALIGN_REFS"
elif [ -d "$SRC" ]; then
  mapfile -t REFS < <(references)
fi

# --- the Node.js language host --------------------------------------------------------------------
LANGHOST_STAMP="$BIN/.pulumi-language-nodejs.version"
build_langhost() {
  local src dir
  src="$(archive "pulumi-language-nodejs-v$PULUMI_VERSION")"
  [ -n "$src" ] || die "no pulumi-language-nodejs v$PULUMI_VERSION: neither beside the CLI nor pulumi-language-nodejs-v$PULUMI_VERSION.tar.gz in $SRC (set NEXUS_TOOLCHAIN_SRC)"
  dir="$WORK/pulumi-language-nodejs"
  unpack "$src" "$dir"
  (
    cd "$dir/sdk/nodejs/cmd/pulumi-language-nodejs"
    # Its go.mod points pkg and sdk at the monorepo (../../..); the release's own modules replace them.
    go mod edit -dropreplace=github.com/pulumi/pulumi/pkg/v3 -dropreplace=github.com/pulumi/pulumi/sdk/v3 \
      -require="github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" -require="github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
    go mod tidy >/dev/null 2>&1 || go mod download
    if [ ${#REFS[@]} -gt 0 ]; then
      # As the CLI's (scripts/bootstrap.sh): its compiled packages are then the CLI's.
      go_align_keeping "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" -- "${REFS[@]}" >/dev/null ||
        die "aligning the language host's dependencies failed (above)"
    fi
    go build -trimpath -o "$BIN/.pulumi-language-nodejs.new" \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" .
  )
  # Built beside, then renamed: stacks running now keep the binary they started with.
  mv -f "$BIN/.pulumi-language-nodejs.new" "$BIN/pulumi-language-nodejs"
  echo "v$PULUMI_VERSION" > "$LANGHOST_STAMP"
}

if [ "$MODE" = build ] && [ "$(cat "$LANGHOST_STAMP" 2>/dev/null)" != "v$PULUMI_VERSION" ] && \
   ! { [ -L "$BIN/pulumi" ] && [ -L "$BIN/pulumi-language-nodejs" ]; }; then
  timed "built pulumi-language-nodejs v$PULUMI_VERSION" build_langhost
fi

# --- resource providers ---------------------------------------------------------------------------
plugin_installed() { # name, version
  "$BIN/pulumi" plugin ls --json 2>/dev/null | node -e '
    const [name, version] = process.argv.slice(1);
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const found = (JSON.parse(s || "[]") || []).some((p) => p.kind === "resource" && p.name === name && p.version === version);
      process.exit(found ? 0 : 1);
    });' "$1" "$2"
}

# What a prepared source tree was prepared from: the archives, the references, these scripts.
prepared_key() { # name, source archive, [upstream archive]
  { echo "$1 $(basename "$2") ${3:+$(basename "$3")}"; cat "$NEXUS_ROOT/scripts/go-align.cjs" "${BASH_SOURCE[0]}" "${REFS[@]}"; } | sha256sum | cut -c1-16
}

# usage: prepare_provider NAME VERSION [UPSTREAM_ARCHIVE_PREFIX]
# Unpacks the provider (and its upstream, patched) into $WORK/NAME, aligns its requirements and
# fetches its modules; $WORK/NAME/.prepared holds the key. Prepared already with that key → nothing.
prepare_provider() {
  local name=$1 version=$2 upstream=${3:-} src up="" dir key
  src="$(archive "pulumi-$name-v$version")"
  [ -n "$src" ] || die "pulumi-resource-$name $version is not installed and cannot be built: pulumi-$name-v$version.tar.gz is not in $SRC (set NEXUS_TOOLCHAIN_SRC, or install the plugin with \`pulumi plugin install resource $name $version\` on a machine that can download)"
  if [ -n "$upstream" ]; then
    up="$(archive "$upstream")"
    [ -n "$up" ] || die "$upstream*.tar.gz (the Terraform provider that pulumi-$name wraps) is not in $SRC"
  fi
  dir="$WORK/$name"
  key="$(prepared_key "$name" "$src" "$up")"
  [ "$(cat "$dir/.prepared" 2>/dev/null)" != "$key" ] || return 0
  local start=$SECONDS
  unpack "$src" "$dir"
  local edits=()
  mapfile -t edits < <(bridge_replaces)
  if [ -n "$up" ]; then
    unpack "$up" "$dir/upstream"
    # The provider repository's own patches to its upstream, in order.
    for p in "$dir"/patches/*.patch; do
      [ -e "$p" ] || continue
      patch -s -p1 -d "$dir/upstream" < "$p"
    done
    tune_upstream "$name" "$dir/upstream"
  fi
  (
    cd "$dir/provider"
    if [ "$name" = tls ]; then
      # pulumi-tls wraps the upstream through a nested shim module; both resolve it locally.
      go mod edit -replace="github.com/hashicorp/terraform-provider-tls=$dir/upstream"
      (cd shim && go mod edit -replace="github.com/hashicorp/terraform-provider-tls=$dir/upstream")
    fi
    go mod edit "${edits[@]}"
    local raised=""
    [ ${#REFS[@]} -eq 0 ] || raised="$(node "$NEXUS_ROOT/scripts/go-align.cjs" "${REFS[@]}")"
    go mod tidy # fetches every module the build needs
    log "pulumi-resource-$name: $(printf '%s\n' "$raised" | grep -c . || true) shared dependencies raised to the providers' newest, modules fetched in $((SECONDS - start)) s"
  )
  echo "$key" > "$dir/.prepared"
}

# usage: build_provider NAME VERSION VERSION_PACKAGE [UPSTREAM_ARCHIVE_PREFIX]
build_provider() {
  local name=$1 version=$2 version_pkg=$3 upstream=${4:-} out
  prepare_provider "$name" "$version" "$upstream"
  (
    cd "$WORK/$name/provider/cmd/pulumi-resource-$name"
    VERSION="$version" go run ./generate.go
    out="$NEXUS_CACHE/plugins/$name/$version"
    mkdir -p "$out"
    # -s -w: no symbol table and no DWARF, as the release builds (a shorter link on a fresh machine).
    go build -trimpath -o "$out/pulumi-resource-$name" -ldflags "-s -w -X $version_pkg.Version=$version" .
    tuning_level "$name" > "$out/pulumi-resource-$name.tuning"
  )
}

ensure_provider() { # name, version package, [upstream archive prefix]
  local name=$1 version bin buildable="" stale=""
  version="$(plugin_version "$name")"
  bin="$NEXUS_CACHE/plugins/$name/$version/pulumi-resource-$name"
  [ -d "$SRC" ] && [ -n "$(archive "pulumi-$name-v$version")" ] && buildable=1
  # Ours, but built with other tunings than today's (or before there were any): built again.
  [ -n "$buildable" ] && [ -x "$bin" ] && [ "$(cat "$bin.tuning" 2>/dev/null)" != "$(tuning_level "$name")" ] && stale=1
  if [ "$MODE" = prepare ]; then
    # Something to fetch only for a plugin built here that is stale, or neither built nor installed yet.
    [ -n "$buildable" ] || return 0
    [ -n "$stale" ] || { [ ! -x "$bin" ] && [ ! -d "$PULUMI_HOME/plugins/resource-$name-v$version" ]; } || return 0
    prepare_provider "$name" "$version" "${3:-}"
    return 0
  fi
  [ -z "$stale" ] && plugin_installed "$name" "$version" && return 0
  if [ ! -x "$bin" ] || [ -n "$stale" ]; then
    if [ -n "$buildable" ]; then
      timed "built pulumi-resource-$name $version${stale:+ again (its tunings changed)}" build_provider "$name" "$version" "$2" "${3:-}"
    elif "$BIN/pulumi" plugin install resource "$name" "$version" >/dev/null 2>&1; then
      log "downloaded pulumi-resource-$name $version"
      return 0
    else
      build_provider "$name" "$version" "$2" "${3:-}" # fails naming what is missing
    fi
  fi
  "$BIN/pulumi" plugin install resource "$name" "$version" --file "$bin" --reinstall >/dev/null
  log "installed pulumi-resource-$name $version"
}

ensure_provider random github.com/pulumi/pulumi-random/provider/v4/pkg/version
ensure_provider tls github.com/pulumi/pulumi-tls/provider/v5/pkg/version upstream-terraform-provider-tls
ensure_provider postgresql github.com/pulumi/pulumi-postgresql/provider/v3/pkg/version upstream-terraform-provider-postgresql
ensure_provider docker github.com/pulumi/pulumi-docker/provider/v5/pkg/version upstream-terraform-provider-docker
