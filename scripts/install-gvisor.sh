#!/usr/bin/env bash
# Registers gVisor (`runsc`) with Docker, for `ociRuntime: "runsc"` /
# `isol8 run --oci-runtime runsc`: a second, user-space kernel between the
# sandboxed code and the host's.
#
# Idempotent. As root on Debian/Ubuntu it:
#   1. installs the distribution's runsc package when /usr/bin/runsc is missing;
#   2. merges {"runtimes":{"runsc":{...}}} into /etc/docker/daemon.json,
#      keeping every other key (the file is created when absent);
#   3. when that file changed, makes dockerd reload it (SIGHUP: running
#      containers are not touched), or starts dockerd when none runs;
#   4. waits until `docker info` lists runsc, then runs one container under it.
#
# runsc's arguments:
#   --network=none  sandboxes have no network anyway, and Debian's runsc
#                   build did not work with Docker's network setup without it;
#   --oci-seccomp   applies the container's seccomp profile (isol8's strict
#                   allow-list) to the code inside gVisor too. Without it runsc
#                   ignores the profile, and `security.seccomp` would silently
#                   mean nothing under runsc.
#   --host-uds=open lets a sandbox connect to a host unix socket that is
#                   mounted into it - the one isol8 mounts for a filtered
#                   network's egress gateway; nothing else is mounted.
# No --platform: the default (ptrace in Debian's build, systrap in newer ones)
# works everywhere, while the KVM platform was seen to hang.
set -euo pipefail

say() { printf 'isol8: %s\n' "$*" >&2; }
fail() {
  say "error: $*"
  exit 1
}

RUNSC=/usr/bin/runsc
CONFIG=/etc/docker/daemon.json
PIDFILE=/var/run/docker.pid
HERE=$(cd "$(dirname "$0")" && pwd)

RUNSC_ENTRY='"runsc":{"path":"/usr/bin/runsc","runtimeArgs":["--network=none","--oci-seccomp","--host-uds=open"]}'

# True when dockerd lists runsc with exactly the entry this script writes.
runsc_registered() {
  docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -qF "$RUNSC_ENTRY"
}

if [ "$(uname -s)" != Linux ]; then
  fail "gVisor runs only on Linux hosts. Docker Desktop users: see https://gvisor.dev/docs/user_guide/install/ for the runtime's own instructions."
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  say "this script installs gVisor only as root on Debian/Ubuntu. Elsewhere, do it by hand:"
  say "  1. install runsc (https://gvisor.dev/docs/user_guide/install/);"
  say "  2. add to /etc/docker/daemon.json: {\"runtimes\":{\"runsc\":{\"path\":\"/usr/bin/runsc\",\"runtimeArgs\":[\"--network=none\",\"--oci-seccomp\",\"--host-uds=open\"]}}}"
  say "  3. reload Docker (sudo systemctl reload docker, or: sudo kill -HUP \$(cat /var/run/docker.pid));"
  say "  4. check: docker info --format '{{json .Runtimes}}' lists runsc."
  exit 1
fi

if [ -n "${DOCKER_HOST:-}" ]; then
  fail "DOCKER_HOST=$DOCKER_HOST points at another engine; register runsc in that engine's daemon.json and reload it there."
fi

# --- 1. the runsc binary -------------------------------------------------------
if [ -x "$RUNSC" ]; then
  say "runsc is installed ($RUNSC)."
else
  say "installing runsc (Debian package runsc)..."
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
  apt_log=$(mktemp)
  if ! { apt-get update -qq && apt-get install -y -qq runsc; } >"$apt_log" 2>&1; then
    tail -n 5 "$apt_log" >&2
    rm -f "$apt_log"
    fail "apt-get install runsc failed (Debian packages it from 12 on; elsewhere see https://gvisor.dev/docs/user_guide/install/)."
  fi
  rm -f "$apt_log"
  [ -x "$RUNSC" ] || fail "the runsc package installed no $RUNSC"
  say "runsc installed: $("$RUNSC" --version 2>/dev/null | head -n 1)"
fi

# --- 2. daemon.json ------------------------------------------------------------
# Prints "changed" or "unchanged"; writes the file atomically only when the
# merged content differs. Any other runtime and every other key are kept.
merge_config() {
  local script='
const fs = require("fs");
const path = process.argv[1];
let config = {};
let before = null;
if (fs.existsSync(path)) {
  before = fs.readFileSync(path, "utf8");
  if (before.trim() !== "") {
    try { config = JSON.parse(before); } catch (e) {
      console.error(`isol8: error: ${path} is not valid JSON (${e.message}); fix it first`);
      process.exit(2);
    }
  }
}
if (config === null || typeof config !== "object" || Array.isArray(config)) {
  console.error(`isol8: error: ${path} does not hold a JSON object; fix it first`);
  process.exit(2);
}
const wanted = { path: "/usr/bin/runsc", runtimeArgs: ["--network=none", "--oci-seccomp", "--host-uds=open"] };
const runtimes = config.runtimes && typeof config.runtimes === "object" ? config.runtimes : {};
if (before !== null && JSON.stringify(runtimes.runsc) === JSON.stringify(wanted)) {
  console.log("unchanged");
  process.exit(0);
}
config.runtimes = { ...runtimes, runsc: wanted };
fs.mkdirSync(require("path").dirname(path), { recursive: true });
const tmp = `${path}.isol8-tmp`;
fs.writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
fs.renameSync(tmp, path);
console.log("changed");
'
  if command -v node >/dev/null 2>&1; then
    node -e "$script" "$CONFIG"
  elif command -v python3 >/dev/null 2>&1; then
    python3 - "$CONFIG" <<'PY'
import json, os, sys
path = sys.argv[1]
config, before = {}, None
if os.path.exists(path):
    with open(path) as f:
        before = f.read()
    if before.strip():
        try:
            config = json.loads(before)
        except ValueError as e:
            print(f"isol8: error: {path} is not valid JSON ({e}); fix it first", file=sys.stderr)
            sys.exit(2)
if not isinstance(config, dict):
    print(f"isol8: error: {path} does not hold a JSON object; fix it first", file=sys.stderr)
    sys.exit(2)
wanted = {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none", "--oci-seccomp", "--host-uds=open"]}
runtimes = config.get("runtimes") if isinstance(config.get("runtimes"), dict) else {}
if before is not None and runtimes.get("runsc") == wanted:
    print("unchanged")
    sys.exit(0)
config["runtimes"] = {**runtimes, "runsc": wanted}
os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
tmp = path + ".isol8-tmp"
with open(tmp, "w") as f:
    f.write(json.dumps(config, indent=2) + "\n")
os.chmod(tmp, 0o644)
os.replace(tmp, path)
print("changed")
PY
  else
    fail "merging $CONFIG needs node or python3"
  fi
}

status=$(merge_config) || exit 1
if [ "$status" = changed ]; then
  say "registered runsc in $CONFIG."
else
  say "$CONFIG already registers runsc."
fi

# --- 3. make dockerd read it -----------------------------------------------------
dockerd_pid=""
if [ -r "$PIDFILE" ]; then
  dockerd_pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if ! [[ "$dockerd_pid" =~ ^[0-9]+$ ]] || ! kill -0 "$dockerd_pid" 2>/dev/null; then
    dockerd_pid=""
  fi
fi

if [ -z "$dockerd_pid" ]; then
  # No dockerd runs: starting one reads the new configuration.
  if [ -f "$HERE/ensure-docker.sh" ]; then
    bash "$HERE/ensure-docker.sh" || fail "could not start the Docker engine"
  else
    fail "no dockerd is running ($PIDFILE); start Docker and run this script again."
  fi
elif [ "$status" = changed ] || ! runsc_registered; then
  say "reloading dockerd's configuration (SIGHUP to pid $dockerd_pid; running containers are not touched)..."
  kill -HUP "$dockerd_pid" || fail "could not signal dockerd (pid $dockerd_pid)"
fi

# --- 4. wait for it, then prove it ---------------------------------------------
for _ in $(seq 1 60); do
  runsc_registered && break
  sleep 0.5
done
if ! runsc_registered; then
  listed=$(docker info --format '{{json .Runtimes}}' 2>/dev/null || true)
  if printf '%s' "$listed" | grep -q '"runsc"'; then
    fail "dockerd lists runsc with other settings than $CONFIG's (registered with --add-runtime?): $listed"
  fi
  fail "dockerd does not list runsc after 30 s; see its log (e.g. /var/log/dockerd.log) for why it rejected $CONFIG."
fi
say "Docker lists the runsc runtime."

check_image=""
for image in isol8:bash isol8:base; do
  if docker image inspect "$image" >/dev/null 2>&1; then
    check_image=$image
    break
  fi
done
if [ -z "$check_image" ]; then
  say "note: no isol8 image yet (run \`isol8 setup\`), so no container was started under runsc to check it."
  exit 0
fi

say "starting a container under runsc ($check_image)..."
started=$(date +%s%N)
if ! out=$(docker run --rm --network none --runtime runsc "$check_image" bash -c 'echo ok' 2>&1); then
  fail "a container did not run under runsc: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
fi
if [ "$(printf '%s' "$out" | tail -n 1)" != ok ]; then
  fail "a container under runsc printed '$(printf '%s' "$out" | tail -n 1)' instead of 'ok'"
fi
say "gVisor works: a container ran under runsc in $((($(date +%s%N) - started) / 1000000)) ms."
