# Sourced by up.sh and preview.sh: toolchain, the local servers when the stack is `local`, and the
# stack selected (created on first use). Sets STACK and leaves the remaining arguments in ARGS.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$NEXUS_ROOT"
STACK="${1:-local}"
ARGS=("${@:2}")

bash scripts/bootstrap.sh
# A protected stack never gets the public dev passphrase (or an empty one): refused before it exists.
node --require tsx/cjs scripts/stack-guard.ts "$STACK"
[ "$STACK" = local ] && bash scripts/services.sh
mkdir -p .pulumi-state
pulumi stack select --create "$STACK" --non-interactive >/dev/null
