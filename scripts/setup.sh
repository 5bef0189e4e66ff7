#!/usr/bin/env bash
# From a fresh checkout to a first sandboxed program, in one command:
# installs the npm dependencies, builds isol8, makes sure a Docker engine is
# installed and running, builds the sandbox images, and runs hello world.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "isol8 needs Node.js 20 or newer (https://nodejs.org)." >&2
  exit 1
fi

step "Installing npm dependencies"
npm ci --no-audit --no-fund

step "Building isol8"
npm run --silent build
# Puts `isol8` on the PATH (a link to this checkout's build).
if npm link --no-audit --no-fund >/dev/null 2>&1 && command -v isol8 >/dev/null 2>&1; then
  ISOL8=(isol8)
else
  echo "isol8: could not link the isol8 command onto the PATH; use 'node dist/cli/isol8.mjs' instead." >&2
  ISOL8=(node dist/cli/isol8.mjs)
fi

step "Making sure a Docker engine is running"
bash scripts/ensure-docker.sh

step "Registering gVisor (runsc) with Docker, for the stronger-isolation tier"
# Optional for using isol8 (only `--oci-runtime runsc` needs it), required by the
# test suite; where the script cannot install it (not Debian, not root) it says
# how to do it by hand and the rest of the set-up goes on.
if ! bash scripts/install-gvisor.sh; then
  echo "isol8: gVisor is not set up; sandboxes run under runc (the default). 'npm run setup:gvisor' tries again." >&2
fi

step "Installing what the test suite drives a terminal with (tmux)"
if ! bash scripts/install-test-tools.sh; then
  echo "isol8: tmux is not installed; only the tests of 'isol8 shell' need it." >&2
fi

step "Building the sandbox images (isol8 setup)"
"${ISOL8[@]}" setup

step "Running a first sandboxed program"
"${ISOL8[@]}" run -e "print('hello from the sandbox')"

cat >&2 <<'TXT'

Ready. Try:
  isol8 run -e "print(6 * 7)"
  echo 'console.log(process.version)' | isol8 run --runtime node
TXT
