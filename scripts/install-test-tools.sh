#!/usr/bin/env bash
# What the test suite needs beside Docker and gVisor: tmux, which the tests
# of `isol8 shell` drive a real terminal with. Installed from Debian's
# archive when missing; elsewhere, says what to install.
set -euo pipefail

if command -v tmux >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "isol8: installing tmux (Debian package tmux) for the terminal tests..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tmux >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tmux >/dev/null; }
  exit 0
fi
echo "isol8: tmux is missing; the tests of 'isol8 shell' need it (install the tmux package)." >&2
exit 1
