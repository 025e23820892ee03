# Shared environment of the project's scripts. Source it: `. scripts/env.sh`.
# Everything built or started lives outside the repository, so fresh clones reuse it.

NEXUS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export NEXUS_ROOT
export NEXUS_CACHE="${NEXUS_CACHE:-$HOME/.cache/nexus-db}"

# Node.js: the project supports the LTS lines 22 and 24 (package.json engines). On a machine whose
# node is older, Node 24 from the npm registry goes first on PATH (scripts/node24.sh, cached), for
# the scripts, the tests and the programs Pulumi runs. NEXUS_NODE_AS_IS=1 keeps the machine's node.
if [ "${NEXUS_NODE_AS_IS:-}" != 1 ] && [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 22 ]; then
  . "$NEXUS_ROOT/scripts/node24.sh"
fi

# Versions that must match the npm packages in package-lock.json.
PULUMI_VERSION="$(node -p "require('$NEXUS_ROOT/node_modules/@pulumi/pulumi/package.json').version" 2>/dev/null || echo 3.248.0)"
export PULUMI_VERSION
export FERRETDB_VERSION="v1.24.2"

# Pulumi: the CLI and language host built by scripts/bootstrap.sh, a private plugin cache,
# no plugin downloads (nothing can be downloaded here), a local file backend.
export PULUMI_ROOT="$NEXUS_CACHE/pulumi/$PULUMI_VERSION"
export PULUMI_HOME="${PULUMI_HOME:-$NEXUS_CACHE/pulumi-home}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK="${PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK:-false}"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$NEXUS_ROOT/.pulumi-state}"
# Documented dev default for the passphrase secrets provider of the local and dev stacks.
# Protected stacks must set their own (or use a cloud KMS secrets provider).
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-nexus-db-local-dev}"
case ":$PATH:" in *":$PULUMI_ROOT/bin:"*) ;; *) export PATH="$PULUMI_ROOT/bin:$PATH" ;; esac

# Test servers started by scripts/services.sh (private instances, loopback only).
export NEXUS_RUN="$NEXUS_CACHE/run"
# PostgreSQL refuses to run as root, and the postgres user cannot enter root's home.
if [ "$(id -u)" = 0 ]; then export NEXUS_PG_DATA="${NEXUS_PG_DATA:-/var/lib/nexus-db/postgres}"; else export NEXUS_PG_DATA="${NEXUS_PG_DATA:-$NEXUS_RUN/postgres}"; fi
export NEXUS_PG_PORT="${NEXUS_PG_PORT:-55432}"
export NEXUS_REDIS_PORT="${NEXUS_REDIS_PORT:-56379}"
export NEXUS_MONGO_PORT="${NEXUS_MONGO_PORT:-57017}"
export NEXUS_MONGO_TLS_PORT="${NEXUS_MONGO_TLS_PORT:-57018}"

# The enforcing Mongo-compatible server: DocumentDB (PostgreSQL extension) + FerretDB v2 in front,
# built by scripts/build-documentdb.sh and run by scripts/services.sh. Its private PostgreSQL tree
# must be readable by the postgres user, which cannot enter root's home.
export FERRETDB2_VERSION="v2.7.0"
if [ "$(id -u)" = 0 ]; then export NEXUS_DOCUMENTDB_HOME="${NEXUS_DOCUMENTDB_HOME:-/var/lib/nexus-db/documentdb}"; else export NEXUS_DOCUMENTDB_HOME="${NEXUS_DOCUMENTDB_HOME:-$NEXUS_CACHE/documentdb}"; fi
export NEXUS_DOCDB_PG_PORT="${NEXUS_DOCDB_PG_PORT:-55433}"
export NEXUS_DOCDB_PORT="${NEXUS_DOCDB_PORT:-57027}"
export NEXUS_DOCDB_READONLY_PORT="${NEXUS_DOCDB_READONLY_PORT:-57028}"
if [ "$(id -u)" = 0 ]; then export NEXUS_DOCDB_PG_DATA="${NEXUS_DOCDB_PG_DATA:-/var/lib/nexus-db/documentdb-postgres}"; else export NEXUS_DOCDB_PG_DATA="${NEXUS_DOCDB_PG_DATA:-$NEXUS_RUN/documentdb-postgres}"; fi

# The local Redis Cluster (`services.sh cluster`): six nodes on this port and the five after it,
# their cluster bus ports 1000 above. Below Linux's ephemeral range (32768-60999): the cluster is
# started (and a node restarted) while the suite runs, and a port in that range can be held just
# then by any outgoing connection or by a test server on a port the kernel handed out.
export NEXUS_REDIS_CLUSTER_PORT="${NEXUS_REDIS_CLUSTER_PORT:-27100}"

# In the Go module of the current folder: raises the shared requirements to the newest among the
# reference go.mod files (scripts/go-align.cjs) while the given modules keep their versions, tidies,
# and checks that they did. Prints how many requirements were raised; fails naming one that moved.
# usage: go_align_keeping PATH@VERSION... -- REFERENCE_GO_MOD...
go_align_keeping() {
  local kept=() r raised
  while [ $# -gt 0 ] && [ "$1" != -- ]; do kept+=("$1"); shift; done
  shift
  raised="$(node "$NEXUS_ROOT/scripts/go-align.cjs" --keep "$(printf '%s\n' "${kept[@]%@*}" | paste -sd,)" "$@")" || return 1
  GOFLAGS=-mod=mod go mod tidy || return 1
  for r in "${kept[@]}"; do
    if [ "$(go list -m -f '{{.Path}}@{{.Version}}' "${r%@*}")" != "$r" ]; then
      printf 'aligning the dependencies of %s moved %s off %s (scripts/go-align.cjs)\n' "$(go list -m)" "${r%@*}" "${r#*@}" >&2
      return 1
    fi
  done
  printf '%s\n' "$raised" | grep -c . || true
}

# Installs Debian packages, as root or through sudo: `apt_install PACKAGE...` (output only on
# failure). The machine's package lists first; when they lack a package (a fresh machine has
# none), they are updated and the install tried again. apt-get waits for another apt-get's dpkg
# lock (DPkg::Lock::Timeout) but not for another's `update` (the lists lock), and the project's
# scripts install side by side (bootstrap, the images, the test servers): a held lists lock is
# waited for here.
apt_install() {
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 -y -q)
  [ "$(id -u)" = 0 ] || apt=(sudo -n "${apt[@]}")
  "${apt[@]}" install --no-install-recommends "$@" >/dev/null 2>&1 && return 0
  local out _
  for _ in $(seq 300); do
    out="$("${apt[@]}" update 2>&1)" && break
    case "$out" in
      *"Could not get lock"*) sleep 1 ;;
      *) printf '%s\n' "$out" >&2; return 1 ;;
    esac
  done
  "${apt[@]}" install --no-install-recommends "$@" >/dev/null
}
