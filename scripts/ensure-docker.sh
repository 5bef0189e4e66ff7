#!/usr/bin/env bash
# Makes sure a Docker engine is installed and answering.
# On Debian/Ubuntu as root it installs Debian's docker.io when no engine is
# present and starts dockerd detached (there may be no systemd). Elsewhere it
# explains what to do. Exit status 0 means `docker info` answers.
set -euo pipefail

say() { printf 'isol8: %s\n' "$*" >&2; }

engine_answers() { docker info >/dev/null 2>&1; }

if engine_answers; then
  exit 0
fi

if [ -n "${DOCKER_HOST:-}" ]; then
  say "DOCKER_HOST=$DOCKER_HOST is set but the engine there does not answer; start it and retry."
  exit 1
fi

is_debian_root() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1
}

if ! command -v dockerd >/dev/null 2>&1; then
  if ! is_debian_root; then
    say "no Docker engine found. Install Docker (https://docs.docker.com/engine/install/) and start it, then retry."
    exit 1
  fi
  say "installing Docker engine (Debian package docker.io)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq docker.io >/dev/null
fi

if [ "$(id -u)" != 0 ]; then
  say "the Docker engine is installed but not running, and starting it needs root. Start it (e.g. 'sudo systemctl start docker') and retry."
  exit 1
fi

# A daemon left from an unclean stop leaves pid files that make the next
# dockerd refuse to start; clear them only when no dockerd is running.
if ! pgrep -x dockerd >/dev/null 2>&1; then
  rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
  say "starting dockerd..."
  mkdir -p /var/log
  setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
fi

for _ in $(seq 1 120); do
  if engine_answers; then
    say "Docker engine is ready."
    exit 0
  fi
  sleep 0.5
done
say "dockerd did not become ready within 60 s; see /var/log/dockerd.log"
exit 1
