#!/usr/bin/env bash
# `npm run preview`: what a pull request's CI comment shows, locally — `pulumi preview --diff` of a
# stack with the policy pack. Toolchain and test servers first when the stack is local.
#   npm run preview                the local stack
#   npm run preview -- staging     another stack (Pulumi.<stack>.yaml); extra args go to pulumi
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$NEXUS_ROOT"
STACK="${1:-local}"; shift || true

bash scripts/bootstrap.sh
[ "$STACK" = local ] && bash scripts/services.sh
mkdir -p .pulumi-state
pulumi stack select --create "$STACK" --non-interactive >/dev/null
exec pulumi preview --diff --non-interactive --stack "$STACK" --policy-pack policy "$@"
