#!/usr/bin/env bash
# The main job (`npm run up`): toolchain and servers if needed, then `pulumi up` of a stack.
#   npm run up                 the local stack (this machine's servers)
#   npm run up -- dev          another stack (Pulumi.<stack>.yaml)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$NEXUS_ROOT"
STACK="${1:-local}"; shift || true

bash scripts/bootstrap.sh
[ "$STACK" = local ] && bash scripts/services.sh
mkdir -p .pulumi-state
pulumi stack select --create "$STACK" --non-interactive >/dev/null
exec pulumi up --yes --non-interactive --stack "$STACK" "$@"
