#!/usr/bin/env bash
# The test command (`npm test`): bootstrap and test servers if needed, typecheck, lint, all suites.
# Extra arguments go to vitest, e.g. `npm test -- tests/engines/migrator.test.ts`.
# The JSON report lands in test-results/vitest.json (.ci/run reads it).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$NEXUS_ROOT"

# The docker stack's tests need an engine and the project's images (built once, then reused): a
# failure there fails the run. NEXUS_SKIP_DOCKER=1 (a machine that cannot run Docker) skips them, and
# the tests say so. On a fresh machine that set-up is mostly downloads (docker.io, debootstrap, the
# images' packages) while bootstrap is mostly Go builds: it runs beside bootstrap and the servers,
# and the tests wait for it. (env.sh above has installed Node already: the two never race for it.)
images_pid=""
if [ "${NEXUS_SKIP_DOCKER:-}" = 1 ]; then
  echo "[test] NEXUS_SKIP_DOCKER=1: the docker stack's tests will be skipped" >&2
else
  bash scripts/images.sh &
  images_pid=$!
  trap '[ -z "$images_pid" ] || kill "$images_pid" 2>/dev/null || true' EXIT
fi
bash scripts/bootstrap.sh
# The typecheck and the lint (one core each) run while the servers start.
echo "[test] typecheck and lint" >&2
npx tsc --noEmit -p . &
tsc_pid=$!
npx eslint --max-warnings=0 . &
lint_pid=$!
bash scripts/services.sh
if [ -n "$images_pid" ]; then
  wait "$images_pid" || { echo "[test] the Docker engine or the project's images failed (above)" >&2; exit 1; }
  images_pid=""
fi
wait "$tsc_pid" || { echo "[test] typecheck failed (above)" >&2; exit 1; }
wait "$lint_pid" || { echo "[test] lint failed (above)" >&2; exit 1; }
# The local file backend (tests that use the stack files need it, on a fresh clone too).
mkdir -p .pulumi-state
eval "$(bash scripts/services.sh urls)"

mkdir -p test-results
echo "[test] vitest" >&2
exec npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@"
