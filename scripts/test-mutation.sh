#!/usr/bin/env bash
# Mutation testing of the security core (stryker.config.mjs), incremental from
# test/mutation/stryker-incremental.json; arguments go to Stryker (--force
# tests every mutant again). The results file is then rid of this machine's
# paths, since it is kept in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
npx stryker run "$@"
node scripts/tidy-mutation-results.mjs
