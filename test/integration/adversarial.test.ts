// Each test tries an escape or an abuse from inside a sandbox and asserts that
// it fails safely, and that the engine, the host and the next run are fine.
// What every OCI runtime must refuse alike (the read-only root, full tmpfs
// mounts, network none, ...) is in test/support/conformance.ts, run under
// runc and runsc; this file holds the escapes tried under runc alone.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createDockerClient } from "../../src/backend/docker/client.js";
import { DockerStdioDemuxer } from "../../src/backend/docker/stdio.js";
import type { DockerIsol8Options } from "../../src/types.js";
import { collectStream, engine, runOnce } from "../support/engine.js";

const EPERM = 1;

/**
 * Calls each dangerous system call once and prints its errno (0 = it worked).
 * Arguments are chosen so that, once past seccomp, the kernel answers with
 * something other than EPERM (success, or an error it finds before any
 * capability check): that is how the unconfined run proves the strict
 * profile is what refused each of them. reboot, swapon and acct are not
 * probed: the kernel checks their capability before anything else, so
 * without the filter they fail with the same EPERM and a probe could not
 * tell (the profile unit test shows they are not in the allow-list).
 * `clone` and `personality(0)` are the allowed forms of the two calls the
 * profile filters by argument.
 */
const SYSCALL_PROBE = String.raw`
import ctypes, ctypes.util, json, os, platform, signal, time
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
NR = {
  "x86_64":  dict(keyctl=250, bpf=321, perf_event_open=298, process_vm_readv=310,
                  init_module=175, finit_module=313, kexec_load=246, clock_settime=227,
                  userfaultfd=323, add_key=248, ptrace=101, unshare=272, setns=308, mount=165,
                  umount2=166, io_uring_setup=425, clone=56, personality=135),
  "aarch64": dict(keyctl=219, bpf=280, perf_event_open=241, process_vm_readv=270,
                  init_module=105, finit_module=273, kexec_load=104, clock_settime=112,
                  userfaultfd=282, add_key=217, ptrace=117, unshare=97, setns=268, mount=40,
                  umount2=39, io_uring_setup=425, clone=220, personality=92),
}[platform.machine()]
def call(name, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(NR[name], *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    return 0 if rc >= 0 else ctypes.get_errno()
def in_child(probe):
    # Calls that change the calling process (its namespaces, persona, tracer) run in a child.
    pid = os.fork()
    if pid == 0:
        os._exit(probe())
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
def raw_clone(flags):
    # No CLONE_VM and no new stack: the child is a copy, as after fork, and leaves at once.
    ctypes.set_errno(0)
    pid = libc.syscall(NR["clone"], ctypes.c_long(flags | signal.SIGCHLD), None, None, None, None)
    if pid == 0:
        libc._exit(0)
    if pid < 0:
        return ctypes.get_errno()
    os.waitpid(pid, 0)
    return 0
def ptrace_attach():
    target = os.fork()
    if target == 0:
        time.sleep(30)
        os._exit(0)
    try:
        return call("ptrace", 16, target, 0, 0)  # PTRACE_ATTACH to its own child
    finally:
        os.kill(target, signal.SIGKILL)
        os.waitpid(target, 0)
CLONE_NEWUSER = 0x10000000
buf = ctypes.create_string_buffer(64)
iov = (ctypes.c_void_p * 2)(ctypes.addressof(buf), 64)
ts = (ctypes.c_long * 2)(0, 0)
attr = ctypes.create_string_buffer(128)
ctypes.memmove(attr, (ctypes.c_uint32 * 2)(1, 128), 8)  # PERF_TYPE_SOFTWARE, size
uring_params = ctypes.create_string_buffer(120)
own_user_ns = os.open("/proc/self/ns/user", os.O_RDONLY)
result = {
  "mount": call("mount", b"none", b"/nonexistent", b"tmpfs", 0, None),
  "umount2": call("umount2", b"/nonexistent", 0),
  "clone(CLONE_NEWUSER)": raw_clone(CLONE_NEWUSER),
  "unshare(CLONE_NEWUSER)": in_child(lambda: call("unshare", CLONE_NEWUSER)),
  "setns": call("setns", own_user_ns, CLONE_NEWUSER),
  "ptrace": in_child(ptrace_attach),
  "process_vm_readv": call("process_vm_readv", os.getpid(), iov, 1, iov, 1, 0),
  "keyctl": call("keyctl", 0, -3, 0),
  "add_key": call("add_key", b"user", b"isol8", b"x", 1, -3),
  "bpf": call("bpf", 0, None, 65536),
  "perf_event_open": call("perf_event_open", attr, 0, -1, -1, 0),
  "clock_settime": call("clock_settime", 999, ts),
  "userfaultfd": call("userfaultfd", 1),  # UFFD_USER_MODE_ONLY: no privilege needed
  "io_uring_setup": call("io_uring_setup", 1, uring_params),
  "personality(ADDR_NO_RANDOMIZE)": in_child(lambda: call("personality", 0x0040000)),
  "init_module": call("init_module", None, 0, b""),
  "finit_module": call("finit_module", -1, b"", 0),
  "kexec_load": call("kexec_load", 0, 0, None, 0),
  "clone": raw_clone(0),
  "personality(0)": in_child(lambda: call("personality", 0)),
}
print(json.dumps(result))
`;

/** The probes the strict profile must let through: the argument filters' allowed side. */
const ALLOWED_FORMS = ["clone", "personality(0)"];

async function probeSyscalls(options: DockerIsol8Options): Promise<Record<string, number>> {
  const result = await runOnce({ runtime: "python", code: SYSCALL_PROBE }, options);
  assert.equal(result.stderr, "");
  return JSON.parse(result.stdout) as Record<string, number>;
}

/**
 * Bash that prints how many processes have a command line starting with
 * `prefix` (one line per process: `exec -a` names them so).
 */
const COUNT_MARKERS = (prefix: string) =>
  `for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done | grep -c '^${prefix}' || true`;

describe("seccomp", () => {
  test("the strict profile refuses every dangerous system call with EPERM", async () => {
    const errnos = await probeSyscalls({});
    for (const [name, errno] of Object.entries(errnos))
      assert.equal(errno, ALLOWED_FORMS.includes(name) ? 0 : EPERM, `${name} gave errno ${errno}`);
  });

  test("control: unconfined, every one of those calls gets past the filter to the kernel", async () => {
    const errnos = await probeSyscalls({ security: { seccomp: "unconfined" } });
    const stillEperm = Object.keys(errnos).filter((name) => errnos[name] === EPERM);
    assert.deepEqual(stillEperm, [], JSON.stringify(errnos));
    // What the namespace, tracing, io_uring and ASLR rules are there to stop, done.
    for (const name of [
      "clone(CLONE_NEWUSER)",
      "unshare(CLONE_NEWUSER)",
      "ptrace",
      "io_uring_setup",
      "personality(ADDR_NO_RANDOMIZE)",
      ...ALLOWED_FORMS,
    ])
      assert.equal(errnos[name], 0, `${name}: ${JSON.stringify(errnos)}`);
  });

  test("a custom profile that cannot be read or parsed stops the engine instead of running without it", async () => {
    const { writeFileSync, mkdtempSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const { DockerIsol8 } = await import("../../src/engine/docker-isol8.js");
    const dir = mkdtempSync(join(tmpdir(), "isol8-seccomp-"));
    writeFileSync(join(dir, "broken.json"), "{ not json");
    writeFileSync(join(dir, "empty.json"), "{}");
    const attempts: [string | undefined, RegExp][] = [
      [join(dir, "missing.json"), /cannot read .*missing\.json/],
      [join(dir, "broken.json"), /is not valid JSON/],
      [join(dir, "empty.json"), /is not a seccomp profile/],
      [undefined, /required when security.seccomp is custom/],
    ];
    for (const [customProfilePath, message] of attempts) {
      assert.throws(
        () => new DockerIsol8({ security: { seccomp: "custom", customProfilePath } }),
        message,
      );
    }
    // A valid custom profile is used as given: this one refuses uname.
    writeFileSync(
      join(dir, "no-uname.json"),
      JSON.stringify({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["uname"], action: "SCMP_ACT_ERRNO" }],
      }),
    );
    const result = await runOnce(
      { runtime: "bash", code: "uname -s || echo refused" },
      { security: { seccomp: "custom", customProfilePath: join(dir, "no-uname.json") } },
    );
    assert.match(result.stdout, /refused/);
  });
});

describe("processes", () => {
  test("a fork bomb is contained by the PID limit; the engine and the next run are fine", async () => {
    const isol8 = engine({ mode: "persistent" });
    const bomb = await isol8.execute({
      runtime: "python",
      timeoutMs: 4000,
      code: "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
    });
    assert.equal(bomb.timedOut, true);
    const after = await isol8.execute({
      runtime: "python",
      code: "import os\nprint('alive', len([p for p in os.listdir('/proc') if p.isdigit()]))",
    });
    // Only the supervisor and this program: nothing of the bomb is left.
    assert.equal(after.stdout, "alive 2\n");
  });

  test("a daemon (double fork + setsid, ignoring SIGTERM) does not outlive a run that ends normally", async () => {
    const isol8 = engine({ mode: "persistent" });
    const run = await isol8.execute({
      runtime: "python",
      code: [
        "import os, signal, time",
        "if os.fork() == 0:",
        "    os.setsid()",
        "    if os.fork() == 0:",
        "        signal.signal(signal.SIGTERM, signal.SIG_IGN)",
        "        os.execvp('bash', ['bash', '-c', 'exec -a isol8-daemon-marker sleep 1000'])",
        "    os._exit(0)",
        "def markers():",
        "    found = 0",
        "    for pid in filter(str.isdigit, os.listdir('/proc')):",
        "        try:",
        "            found += open(f'/proc/{pid}/cmdline', 'rb').read().startswith(b'isol8-daemon-marker')",
        "        except OSError:",
        "            pass",
        "    return found",
        "for _ in range(100):",
        "    if markers():",
        "        break",
        "    time.sleep(0.1)",
        "print('parent done, daemons alive:', markers())",
      ].join("\n"),
    });
    // The daemon was running when the run ended...
    assert.equal(run.stdout, "parent done, daemons alive: 1\n");
    // ...and the next run in the same container finds it gone.
    const check = await isol8.execute({
      runtime: "python",
      cmd: COUNT_MARKERS("isol8-daemon-marker"),
    });
    assert.equal(check.stdout, "0\n");
  });

  test("a memory bomb is killed and flagged; swap is not used beyond the limit", async () => {
    const isol8 = engine({ mode: "persistent", memoryLimit: "128m" });
    const bomb = await isol8.execute({
      runtime: "python",
      code: "chunks = []\nwhile True:\n    chunks.append(b'x' * (8 * 1024 * 1024))",
    });
    assert.equal(bomb.oomKilled, true);
    const limits = await isol8.execute({
      runtime: "python",
      cmd: [
        "echo alive",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
        // memory+swap equals memory (cgroup v1) or swap.max is 0 (v2): no swap on top.
        "cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.swap.max 2>/dev/null || echo no-swap-accounting",
      ].join("\n"),
    });
    const [alive, limit, swap] = limits.stdout.trim().split("\n");
    assert.equal(alive, "alive");
    assert.equal(limit, String(128 * 1024 * 1024));
    assert.ok(
      swap === limit || swap === "0" || swap === "no-swap-accounting",
      `swap limit ${swap}`,
    );
  });
});

describe("filesystem", () => {
  test("kernel interfaces are closed: /proc/sysrq-trigger, /proc/sys, /sys and dmesg", async () => {
    const result = await runOnce({
      runtime: "bash",
      code: [
        "(echo h > /proc/sysrq-trigger) 2>/dev/null && echo sysrq-open || echo sysrq-refused",
        "(echo 1 > /proc/sys/vm/drop_caches) 2>/dev/null && echo procsys-open || echo procsys-refused",
        "(echo 1 > /sys/kernel/profiling) 2>/dev/null && echo sys-open || echo sys-refused",
        "dmesg >/dev/null 2>&1 && echo dmesg-open || echo dmesg-refused",
      ].join("\n"),
    });
    assert.deepEqual(result.stdout.trim().split("\n"), [
      "sysrq-refused",
      "procsys-refused",
      "sys-refused",
      "dmesg-refused",
    ]);
  });

  test("the Docker socket and the host's files are out of reach", async () => {
    const result = await runOnce({
      runtime: "bash",
      code: [
        "ls /var/run/docker.sock /run/docker.sock 2>/dev/null | wc -l",
        "ls /root 2>/dev/null | wc -l",
        "grep -c ' / ' /proc/mounts",
        "cat /proc/1/environ 2>/dev/null | wc -c",
        "ls /proc/1/fd 2>/dev/null | wc -l",
        // Control: the same reads of a process of the sandbox user's own.
        "sleep 30 & own=$!",
        "cat /proc/$own/environ 2>/dev/null | wc -c | sed 's/^[1-9][0-9]*$/some/'",
        "ls /proc/$own/fd 2>/dev/null | wc -l | sed 's/^[1-9][0-9]*$/some/'",
        "kill $own",
      ].join("\n"),
    });
    // No socket, no /root content, one root mount (the container's), and the
    // supervisor's environment and file descriptors (its channel) are closed
    // to the sandbox, where its own processes' are open.
    assert.deepEqual(result.stdout.trim().split("\n"), ["0", "0", "1", "0", "0", "some", "some"]);
  });
});

/**
 * Bash that runs every setuid-root binary of the image and prints, per line,
 * what the kernel gave it. `su` is fed a password through a FIFO, and its ids
 * are read from /proc while it waits for it (`Uid:` is real, effective, saved,
 * filesystem). Each setuid binary runs with LD_SHOW_AUXV, which glibc's loader
 * honours only when the exec was not privileged: it prints the effective uid
 * the kernel handed over (AT_EUID) and AT_SECURE, and prints nothing when the
 * setuid bit took effect. Root's passwords are locked in the image, so su and
 * newgrp root fail whatever the password; their ids are what shows the setuid
 * bit did nothing.
 */
const SETUID_PROBE = String.raw`
fifo=$(mktemp -u /tmp/pw.XXXXXX); mkfifo "$fifo"
su -c 'id -u' root < "$fifo" >/dev/null 2>&1 &
su=$!
exec 3> "$fifo"
for i in $(seq 100); do grep -q '^Uid' /proc/$su/status 2>/dev/null && [ "$(cat /proc/$su/comm)" = su ] && break; sleep 0.1; done
echo "su-ids $(grep '^Uid' /proc/$su/status | tr -s '\t' ' ' | cut -d' ' -f2-)"
echo wrong-password >&3; exec 3>&-
wait $su && echo "su worked" || echo "su refused"
for b in $(find / -xdev -perm -4000 -user root -type f 2>/dev/null); do
  echo "setuid $b$(LD_SHOW_AUXV=1 "$b" --version </dev/null 2>/dev/null | grep -E '^AT_(EUID|SECURE):' | tr -s ' ' | sed 's/^/ /' | tr -d '\n')"
done
echo "newgrp$(newgrp root <<< 'echo " switched to uid $(id -u) gid $(id -g)"' 2>/dev/null)"
grep -E '^(NoNewPrivs|CapEff)' /proc/self/status | tr -s '\t' ' '
`;

/** The probe's output lines, the setuid ones apart. */
function setuidProbeLines(stdout: string): { setuid: string[]; other: string[] } {
  const lines = stdout.replace(/\r/g, "").trim().split("\n");
  return {
    setuid: lines.filter((line) => line.startsWith("setuid ")),
    other: lines.filter((line) => !line.startsWith("setuid ")),
  };
}

describe("privileges", () => {
  test("setuid-root binaries run as uid 100; su and newgrp give nothing; no-new-privileges is set", async () => {
    const result = await runOnce({ runtime: "bash", code: SETUID_PROBE });
    const { setuid, other } = setuidProbeLines(result.stdout);
    assert.deepEqual(other, [
      "su-ids 100 100 100 100",
      "su refused",
      "newgrp",
      "CapEff: 0000000000000000",
      "NoNewPrivs: 1",
    ]);
    assert.ok(setuid.length >= 1, "the image has setuid binaries to try");
    for (const line of setuid) assert.match(line, /^setuid \S+ AT_EUID: 100 AT_SECURE: 0$/);
  });

  test("control: without no-new-privileges the same probe sees su and every setuid binary run as root", async () => {
    // The sandbox image as a plain container: uid 100, no capabilities, no
    // network, but no no-new-privileges: only that flag differs from a sandbox here.
    const container = await createDockerClient().createContainer({
      Image: "isol8:bash",
      Entrypoint: ["timeout", "60", "bash", "-c", SETUID_PROBE],
      User: "100:100",
      HostConfig: { CapDrop: ["ALL"], NetworkMode: "none" },
    });
    try {
      await container.start();
      await container.wait();
      let stdout = "";
      new DockerStdioDemuxer(
        (chunk) => {
          stdout += chunk.toString();
        },
        () => {},
      ).push(await container.logs({ stdout: true, stderr: true }));
      const { setuid, other } = setuidProbeLines(stdout);
      assert.deepEqual(other, [
        "su-ids 100 0 0 0",
        "su refused",
        "newgrp",
        "CapEff: 0000000000000000",
        "NoNewPrivs: 0",
      ]);
      assert.ok(setuid.length >= 1);
      // The loader ran in secure mode: the setuid bit took effect in every one.
      for (const line of setuid) assert.match(line, /^setuid \S+$/);
    } finally {
      await container.remove({ force: true });
    }
  });
});

describe("output floods", () => {
  test("100 MB on stdout, a 10 MB line without newline and binary garbage: cut at the limit, engine memory bounded", async () => {
    const isol8 = engine({ mode: "persistent" });
    const rssBefore = process.memoryUsage().rss;
    const flood = await isol8.execute({
      runtime: "bash",
      code: "head -c 100000000 /dev/zero | tr '\\0' 'a'",
    });
    assert.equal(flood.truncated, true);
    assert.equal(flood.stdout.length, 1024 * 1024);
    const line = await isol8.execute({
      runtime: "bash",
      code: "head -c 10000000 /dev/zero | tr '\\0' 'b'",
    });
    assert.equal(line.truncated, true);
    assert.equal(line.stdout.length, 1024 * 1024);
    const binary = await isol8.execute({ runtime: "bash", code: "head -c 3000000 /dev/urandom" });
    assert.equal(binary.truncated, true);
    assert.ok(Buffer.byteLength(binary.stdout) >= 1024 * 1024 * 0.9);
    const events = await collectStream(isol8, {
      runtime: "bash",
      code: "head -c 50000000 /dev/zero | tr '\\0' 'c'",
    });
    const streamed = events
      .filter((e) => e.event.type === "stdout")
      .reduce((n, e) => n + e.event.data.length, 0);
    assert.equal(streamed, 1024 * 1024);
    const growthMB = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
    assert.ok(growthMB < 100, `engine grew by ${growthMB.toFixed(0)} MB`);
  });
});

describe("secrets", () => {
  test("a secret never appears: whole, split across writes, on stderr, inside a longer string, streamed", async () => {
    const secret = "ghp_S3cr3tV4lu3_xyz";
    const code = [
      "import os, sys",
      "s = os.environ['TOKEN']",
      "print(s)",
      "print('prefix' + s + 'suffix')",
      "sys.stderr.write(s[:5]); sys.stderr.flush(); sys.stderr.write(s[5:] + '\\n')",
      "for i in range(0, len(s), 3):",
      "    sys.stdout.write(s[i:i+3]); sys.stdout.flush()",
      "print()",
    ].join("\n");
    const isol8 = engine({ secrets: { TOKEN: secret } });
    const result = await isol8.execute({ runtime: "python", code });
    assert.equal(result.stdout, "***\nprefix***suffix\n***\n");
    assert.equal(result.stderr, "***\n");
    const events = await collectStream(isol8, { runtime: "python", code });
    const everything = JSON.stringify(events);
    assert.ok(!everything.includes(secret) && !everything.includes("S3cr3t"), everything);
  });
});
