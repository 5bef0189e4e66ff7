#!/usr/bin/env bash
# The whole test suite: unit tests, then integration and end-to-end tests
# against the real Docker engine, then a check that nothing was left behind.
# Needs a running Docker engine and the images (`isol8 setup`); the README's
# set-up command provides both.
set -euo pipefail
cd "$(dirname "$0")/.."

npm run --silent typecheck
npm run --silent lint
npm run --silent build

# Containers that already existed are not the suite's leftovers.
ISOL8_PREEXISTING=$(docker ps -aq --no-trunc --filter label=isol8.managed=true | cut -c1-12 | paste -sd, -)
export ISOL8_PREEXISTING

# One file at a time: the machine has two cores and the suites start many containers.
exec node --import tsx --test --test-concurrency=1 \
  test/unit/*.test.ts \
  test/integration/*.test.ts \
  test/e2e/*.test.ts \
  test/server/*.test.ts \
  test/zz-leaks.test.ts
