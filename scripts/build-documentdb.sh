#!/usr/bin/env bash
# Builds the enforcing MongoDB-compatible test server, idempotently:
#   - DocumentDB (the PostgreSQL extension behind FerretDB v2) and pgvector, from the source
#     archives in $NEXUS_TOOLCHAIN_SRC (default ../shared/toolchain-src beside the repository), for
#     this machine's PostgreSQL major, into a private copy of Debian's PostgreSQL tree
#     ($NEXUS_DOCUMENTDB_HOME/<major>-<hash>; the system's PostgreSQL is never touched). The tree
#     is keyed by a hash of the archives, this script and the server's version: unchanged → reused.
#   - FerretDB $FERRETDB2_VERSION (`go install` from the Go module proxy), cached by version.
# Debian packages it needs are installed with apt-get when missing (root only).
# On success $NEXUS_DOCUMENTDB_HOME/current points at the tree; scripts/services.sh runs it.
# Exit status 3 (and nothing changed) when the sources are missing: the tests then fall back to
# FerretDB 1.24 (see scripts/services.sh).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$NEXUS_ROOT"

log() { printf '[documentdb] %s\n' "$*" >&2; }
die() { printf '[documentdb] error: %s\n' "$1" >&2; exit "${2:-1}"; }
started=$SECONDS

SRC="${NEXUS_TOOLCHAIN_SRC:-$NEXUS_ROOT/../shared/toolchain-src}"
# A clone away from the sources on a machine that built DocumentDB before: use that build (the
# sources are needed only to build, and to tell whether a build is current).
if [ ! -d "$SRC" ] && [ -f "$NEXUS_DOCUMENTDB_HOME/current/.complete" ] && [ -x "$NEXUS_CACHE/ferretdb/$FERRETDB2_VERSION/ferretdb" ]; then
  log "no source folder $SRC: using the DocumentDB built before ($(readlink -f "$NEXUS_DOCUMENTDB_HOME/current"))"
  exit 0
fi
[ -d "$SRC" ] || die "no source folder $SRC (set NEXUS_TOOLCHAIN_SRC to the folder holding documentdb-0.107-0-*.tar.gz and pgvector-v0.8.1.tar.gz)" 3
shopt -s nullglob
dd_archives=("$SRC"/documentdb-0.107-0-*.tar.gz)
shopt -u nullglob
[ ${#dd_archives[@]} -eq 1 ] || die "expected exactly one documentdb-0.107-0-*.tar.gz in $SRC, found ${#dd_archives[@]} (DocumentDB 0.107-0 is the version FerretDB $FERRETDB2_VERSION expects)" 3
DD_ARCHIVE="${dd_archives[0]}"
PGVECTOR_ARCHIVE="$SRC/pgvector-v0.8.1.tar.gz"
[ -f "$PGVECTOR_ARCHIVE" ] || die "missing $PGVECTOR_ARCHIVE (pgvector 0.8.1, required by DocumentDB)" 3

# --- the machine's PostgreSQL, and the Debian packages the build and the extension need -------
PG_MAJOR="${NEXUS_PG_MAJOR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 | cut -d/ -f5)}"
[ -n "$PG_MAJOR" ] || die "no PostgreSQL server under /usr/lib/postgresql (apt-get install postgresql)"
need=()
for p in "postgresql-server-dev-$PG_MAJOR" libpq-dev libkrb5-dev pkg-config build-essential libbson-dev \
         libintelrdfpmath-dev libpcre2-dev "postgresql-$PG_MAJOR-cron" "postgresql-$PG_MAJOR-postgis-3" "postgresql-$PG_MAJOR-rum"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${need[*]} (install them as root)"
  log "apt-get install ${need[*]}"
  t=$SECONDS
  apt_install "${need[@]}" || die "apt-get install ${need[*]} failed"
  log "apt packages installed in $((SECONDS - t)) s"
fi

SYS_PG="/usr/lib/postgresql/$PG_MAJOR"
PG_VERSION_TEXT="$("$SYS_PG/bin/pg_config" --version)"
key="$( { sha256sum "$DD_ARCHIVE" "$PGVECTOR_ARCHIVE" | cut -d' ' -f1; sed -n '/^# --- build/,$p' "${BASH_SOURCE[0]}"; echo "$PG_VERSION_TEXT"; } | sha256sum | cut -c1-16)"
TREE="$NEXUS_DOCUMENTDB_HOME/$PG_MAJOR-$key"

# --- build (only when the tree for this key is not complete) ------------------------------------
if [ -f "$TREE/.complete" ]; then
  log "DocumentDB $(basename "$DD_ARCHIVE" .tar.gz) + pgvector 0.8.1 for PostgreSQL $PG_MAJOR: cached ($TREE)"
else
  log "building DocumentDB $(basename "$DD_ARCHIVE" .tar.gz) + pgvector 0.8.1 for $PG_VERSION_TEXT into $TREE"
  t=$SECONDS
  rm -rf "$TREE"
  # A private copy of Debian's tree: PostgreSQL finds its lib and share folders relative to its
  # own executable, so the copy runs with the extensions installed into it and nothing else.
  mkdir -p "$TREE/usr/lib/postgresql" "$TREE/usr/share/postgresql" "$TREE/usr/include"
  cp -a "$SYS_PG" "$TREE/usr/lib/postgresql/"
  cp -a "/usr/share/postgresql/$PG_MAJOR" "$TREE/usr/share/postgresql/"
  cp -a /usr/include/postgresql "$TREE/usr/include/"
  PG_CONFIG="$TREE/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
  [ "$("$PG_CONFIG" --pkglibdir)" = "$TREE/usr/lib/postgresql/$PG_MAJOR/lib" ] ||
    die "the copied pg_config does not relocate (pkglibdir $("$PG_CONFIG" --pkglibdir))"

  BUILD="$NEXUS_CACHE/build/documentdb-$key"
  rm -rf "$BUILD" && mkdir -p "$BUILD/pkgconfig"
  tar -xzf "$PGVECTOR_ARCHIVE" -C "$BUILD"
  tar -xzf "$DD_ARCHIVE" -C "$BUILD"
  # DocumentDB asks pkg-config for "intelmathlib"; Debian ships the library without a .pc file.
  cat > "$BUILD/pkgconfig/intelmathlib.pc" <<PC
Name: intelmathlib
Description: Intel Decimal Floating-Point Math Library (Debian libintelrdfpmath-dev)
Version: 2.0
Cflags: -I/usr/include
Libs: -lbidgcc000
PC
  export PKG_CONFIG_PATH="$BUILD/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  jobs="$(nproc 2>/dev/null || echo 2)"
  (
    cd "$BUILD"/pgvector-*
    make -s -j"$jobs" with_llvm=no PG_CONFIG="$PG_CONFIG" >/dev/null
    make -s install with_llvm=no PG_CONFIG="$PG_CONFIG" >/dev/null
  ) || die "pgvector did not build (sources in $BUILD)"
  log "pgvector built in $((SECONDS - t)) s"
  dd_src="$(ls -d "$BUILD"/documentdb-*)"
  for part in pg_documentdb_core pg_documentdb; do
    (
      cd "$dd_src/$part"
      # Debian's libbson 1.23 lacks BSON_SUBTYPE_SENSITIVE (added in 1.25): its value is 8.
      make -s -j"$jobs" with_llvm=no PG_CONFIG="$PG_CONFIG" COPT='-DBSON_SUBTYPE_SENSITIVE=8 -Wno-error=switch' >/dev/null
      make -s install with_llvm=no PG_CONFIG="$PG_CONFIG" >/dev/null
    ) || die "$part did not build (sources in $dd_src; run make there to see the compiler's message)"
  done
  chmod -R a+rX "$TREE"
  touch "$TREE/.complete"
  rm -rf "$BUILD"
  log "DocumentDB + pgvector built in $((SECONDS - t)) s"
fi
ln -sfn "$TREE" "$NEXUS_DOCUMENTDB_HOME/current.new" && mv -Tf "$NEXUS_DOCUMENTDB_HOME/current.new" "$NEXUS_DOCUMENTDB_HOME/current"

# --- FerretDB v2 (the gateway in front of DocumentDB) ------------------------------------------
command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"
FERRETDB2_BIN="$NEXUS_CACHE/ferretdb/$FERRETDB2_VERSION/ferretdb"
if [ -x "$FERRETDB2_BIN" ] && [ "$(cat "$FERRETDB2_BIN.version" 2>/dev/null)" = "$FERRETDB2_VERSION" ]; then
  log "FerretDB $FERRETDB2_VERSION: cached ($FERRETDB2_BIN)"
else
  log "building FerretDB $FERRETDB2_VERSION (go install from the module proxy)"
  t=$SECONDS
  mkdir -p "$(dirname "$FERRETDB2_BIN")"
  # v2's go.mod has no replace directives, so `go install module@version` works (its version
  # then reads "unknown": buildInfo still names FerretDB, which is what the probe looks for).
  GOBIN="$(dirname "$FERRETDB2_BIN")" GOFLAGS=-mod=mod go install -trimpath \
    "github.com/FerretDB/FerretDB/v2/cmd/ferretdb@$FERRETDB2_VERSION"
  echo "$FERRETDB2_VERSION" > "$FERRETDB2_BIN.version"
  log "FerretDB $FERRETDB2_VERSION built in $((SECONDS - t)) s"
fi

log "ready in $((SECONDS - started)) s: PostgreSQL $PG_MAJOR + DocumentDB at $NEXUS_DOCUMENTDB_HOME/current, FerretDB at $FERRETDB2_BIN"
