#!/usr/bin/env bash
# `npm run preview`: what a pull request's CI comment shows, locally — `pulumi preview --diff` of a
# stack with the policy pack. Toolchain and test servers first when the stack is local.
#   npm run preview                the local stack
#   npm run preview -- staging     another stack (Pulumi.<stack>.yaml); extra args go to pulumi
. "$(dirname "${BASH_SOURCE[0]}")/stack-prelude.sh"
exec pulumi preview --diff --non-interactive --stack "$STACK" --policy-pack policy "${ARGS[@]}"
