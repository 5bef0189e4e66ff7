#!/usr/bin/env bash
# The whole test suite: integration, end-to-end and server tests against the
# real Docker engine (several files at a time), beside them mutation testing
# of the security core and the unit tests, and last a check that nothing was
# left behind.
# Needs a running Docker engine, the images and gVisor (scripts/setup.sh sets
# up all three) and a build (`npm run check` typechecks, lints and builds).
#
# ISOL8_TEST_CONCURRENCY sets how many Docker test files run at once (3 by
# default). Each file is its own process, and a test only ever looks at the
# containers its own process created (their isol8.owner label, or their ids),
# so files do not see one another's.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f dist/cli/isol8.mjs ]; then
  echo "isol8: no build in dist/; run 'npm run check' (or 'npm run build') first." >&2
  exit 2
fi

# Containers that already existed are not the suite's leftovers.
ISOL8_PREEXISTING=$(docker ps -aq --no-trunc --filter label=isol8.managed=true | cut -c1-12 | paste -sd, -)
export ISOL8_PREEXISTING

# A test that hangs fails after 5 minutes instead of hanging the suite. A
# failing step does not stop the later ones (the leak check means most after
# failures), but fails the suite.
status=0
run_tests() {
  node --import tsx --test --test-timeout=300000 "$@" || status=1
}

# Pure logic needs no Docker, so it runs beside the Docker tiers, on the CPU
# they leave idle while containers start and programs wait: first mutation
# testing of the security core (a behaviour its unit tests do not assert
# fails the suite: score under 90%, see stryker.config.mjs), then the unit
# tests, one file at a time. Their report is printed once the Docker tiers end.
pure_log=$(mktemp)
(
  pure_status=0
  npm run --silent test:mutation || pure_status=1
  node --import tsx --test --test-timeout=300000 --test-concurrency=1 test/unit/*.test.ts || pure_status=1
  exit "$pure_status"
) >"$pure_log" 2>&1 &
pure_tests=$!

# The Docker tiers. node --test starts files in the order given, so the
# longest go first and the short ones fill in around them (times of one file
# alone: memory-bounds about 80 s, gvisor and package-install 40 s,
# serve-cli, cli-run, cli-config-keys and baked-packages 30-40 s; most
# others 5-30 s).
LONGEST=(
  test/server/memory-bounds.test.ts
  test/integration/gvisor.test.ts
  test/e2e/cli-config-keys.test.ts
  test/e2e/package-install.test.ts
  test/server/serve-cli.test.ts
  test/integration/baked-packages.test.ts
  test/e2e/cli-run.test.ts
)
docker_files=("${LONGEST[@]}")
for file in test/integration/*.test.ts test/e2e/*.test.ts test/server/*.test.ts; do
  [[ " ${LONGEST[*]} " == *" $file "* ]] || docker_files+=("$file")
done
run_tests --test-concurrency="${ISOL8_TEST_CONCURRENCY:-3}" "${docker_files[@]}"

echo "# mutation testing and unit tests (run beside the Docker tiers)"
wait "$pure_tests" || status=1
cat "$pure_log"
rm -f "$pure_log"

# Last and alone: after everything else, no container or network isol8 made is left.
run_tests --test-concurrency=1 test/zz-leaks.test.ts
exit "$status"
