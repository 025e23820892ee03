# Shared environment of the project's scripts. Source it: `. scripts/env.sh`.
# Everything built or started lives outside the repository, so fresh clones reuse it.

NEXUS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export NEXUS_ROOT
export NEXUS_CACHE="${NEXUS_CACHE:-$HOME/.cache/nexus-db}"

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
