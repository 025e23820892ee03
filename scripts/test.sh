#!/usr/bin/env bash
# The test command (`npm test`): bootstrap and test servers if needed, typecheck, lint, all suites.
# Extra arguments go to vitest, e.g. `npm test -- tests/engines/migrator.test.ts`.
# The JSON report lands in test-results/vitest.json (.ci/run reads it).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$NEXUS_ROOT"

bash scripts/bootstrap.sh
bash scripts/services.sh
# The docker stack's tests need an engine and the project's images (built once, then reused): a
# failure here fails the run. NEXUS_SKIP_DOCKER=1 (a machine that cannot run Docker) skips them, and
# the tests say so.
if [ "${NEXUS_SKIP_DOCKER:-}" = 1 ]; then
  echo "[test] NEXUS_SKIP_DOCKER=1: the docker stack's tests will be skipped" >&2
else
  bash scripts/images.sh
fi
# The local file backend (tests that use the stack files need it, on a fresh clone too).
mkdir -p .pulumi-state
eval "$(bash scripts/services.sh urls)"

echo "[test] typecheck" >&2
npx tsc --noEmit -p .
echo "[test] lint" >&2
npx eslint --max-warnings=0 .

mkdir -p test-results
echo "[test] vitest" >&2
exec npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@"
