#!/usr/bin/env bash
# The main job (`npm run up`): toolchain and servers if needed, then `pulumi up` of a stack.
#   npm run up                 the local stack (this machine's servers)
#   npm run up -- dev          another stack (Pulumi.<stack>.yaml); extra args go to pulumi
. "$(dirname "${BASH_SOURCE[0]}")/stack-prelude.sh"
exec pulumi up --yes --non-interactive --stack "$STACK" "${ARGS[@]}"
