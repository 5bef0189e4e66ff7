// What every OCI runtime isol8 runs sandboxes under must hold the same way:
// one list of cases, run once per runtime (conformance-runc.test.ts and
// conformance-runsc.test.ts), so the two tiers are held to the same
// assertions instead of copies of them. Where a runtime differs, its
// OciRuntime says how, and the tier's own test file tests the difference.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { DockerIsol8Options } from "../../src/types.js";
import { collectStream, engine, runOnce } from "./engine.js";

/** One OCI runtime the conformance cases run under, and how its kernel shows what they read. */
export interface OciRuntime {
  /** The name tests are listed under. */
  name: string;
  /** Engine options that select the runtime. */
  options: DockerIsol8Options;
  /**
   * The capability lines of /proc/self/status for a sandboxed program, as
   * `Name: value` with tabs squeezed. gVisor's status has no CapAmb or
   * NoNewPrivs line (the prctl case checks both under every runtime).
   */
  statusCapabilityLines: string[];
  /**
   * What connect() to an address with no route fails with: Linux says
   * ENETUNREACH when no interface but lo is up, gVisor's netstack EHOSTUNREACH.
   */
  noRouteErrno: "ENETUNREACH" | "EHOSTUNREACH";
  /**
   * Whether Docker's PID limit counts the sandbox's processes, so a start
   * past it is refused: gVisor's processes live inside its own kernel, and
   * the limit counts only its few host threads.
   */
  pidsLimitCountsProcesses: boolean;
  /**
   * Whether a terminal's line discipline turns Ctrl-C (0x03) into SIGINT
   * for its foreground group; Debian's runsc (2022) does not.
   */
  terminalSignals: boolean;
}

const NO_CAPABILITIES = ["CapInh", "CapPrm", "CapEff", "CapBnd"].map(
  (name) => `${name}: 0000000000000000`,
);

/** runc, Docker's default runtime. */
export const RUNC: OciRuntime = {
  name: "runc",
  options: {},
  statusCapabilityLines: [...NO_CAPABILITIES, "CapAmb: 0000000000000000", "NoNewPrivs: 1"],
  noRouteErrno: "ENETUNREACH",
  pidsLimitCountsProcesses: true,
  terminalSignals: true,
};

/** gVisor's runsc (the engine's defaults, pidsLimit included: it raises Docker's by gVisor's overhead). */
export const RUNSC: OciRuntime = {
  name: "runsc",
  options: { ociRuntime: "runsc" },
  statusCapabilityLines: NO_CAPABILITIES,
  noRouteErrno: "EHOSTUNREACH",
  pidsLimitCountsProcesses: false,
  terminalSignals: false,
};

/**
 * Bash that prints how many processes the timeout case's markers are: one
 * line per process, counted when it starts with a marker's name (`exec -a`
 * gives them those names).
 */
const COUNT_MARKERS =
  "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done | grep -c '^isol8-marker-' || true";

/** Registers every conformance case for `runtime`. */
export function conformance(runtime: OciRuntime): void {
  const options = runtime.options;

  describe(`${runtime.name}: privileges`, () => {
    test("uid 100, no capabilities, read-only root, noexec /tmp, /sandbox executable, only lo", async () => {
      const result = await runOnce(
        {
          runtime: "bash",
          code: [
            "id -u",
            "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status | tr -s '\\t' ' '",
            "touch /etc/x 2>/dev/null && echo root-writable || echo root-read-only",
            "echo 'echo ran' > /tmp/t.sh && chmod +x /tmp/t.sh && (/tmp/t.sh 2>/dev/null || echo tmp-noexec)",
            "echo 'echo sandbox-exec' > /sandbox/t.sh && chmod +x /sandbox/t.sh && /sandbox/t.sh",
            // Not `ls /sys/class/net`: coreutils' ls calls statx() with
            // AT_NO_AUTOMOUNT, which Debian's runsc (2022) refuses with EINVAL.
            "echo /sys/class/net/*",
            "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
          ].join("\n"),
        },
        options,
      );
      assert.equal(result.stderr, "");
      assert.equal(
        result.stdout,
        [
          "100",
          ...runtime.statusCapabilityLines,
          "root-read-only",
          "tmp-noexec",
          "sandbox-exec",
          "/sys/class/net/lo",
          "lo",
          "",
        ].join("\n"),
      );
    });

    test("no new privileges, no ambient capabilities, and isol8's seccomp filter in force", async () => {
      const result = await runOnce(
        {
          runtime: "python",
          code: [
            "import ctypes, os",
            "libc = ctypes.CDLL(None, use_errno=True)",
            "libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4",
            "print('no_new_privs', libc.prctl(39, 0, 0, 0, 0))",
            "print('ambient', [c for c in range(41) if libc.prctl(47, 1, c, 0, 0) == 1])",
            "print('bounding', [c for c in range(41) if libc.prctl(23, c, 0, 0, 0) == 1])",
            "print([l for l in open('/proc/self/status') if l.startswith('Seccomp:')][0].split()[1])",
            // unshare(0) needs no privilege: only a seccomp filter refuses it.
            // Without runsc's --oci-seccomp, gVisor ignores Docker's profile and it succeeds.
            "r = libc.syscall(272 if os.uname().machine == 'x86_64' else 97, 0)",
            "print('unshare', r, os.strerror(ctypes.get_errno()) if r else 'allowed')",
            "try:",
            "    os.kill(1, 9)",
            "except PermissionError:",
            "    print('kill 1 refused')",
          ].join("\n"),
        },
        options,
      );
      assert.equal(result.stderr, "");
      assert.deepEqual(result.stdout.trim().split("\n"), [
        "no_new_privs 1",
        "ambient []",
        "bounding []",
        "2",
        "unshare -1 Operation not permitted",
        "kill 1 refused",
      ]);
    });

    test("the host's environment does not reach the sandbox", async () => {
      process.env.ISOL8_TEST_HOST_SECRET = "host-only-value";
      try {
        const result = await runOnce({ runtime: "bash", code: "env" }, options);
        assert.ok(!result.stdout.includes("host-only-value"));
        assert.match(result.stdout, /^HOME=\/sandbox$/m);
      } finally {
        delete process.env.ISOL8_TEST_HOST_SECRET;
      }
    });
  });

  describe(`${runtime.name}: filesystem`, () => {
    test("filling /sandbox and /tmp ends in ENOSPC inside the sandbox", async () => {
      const result = await runOnce(
        {
          runtime: "bash",
          code: [
            "dd if=/dev/zero of=/sandbox/fill bs=1M count=64 2>&1 | grep -o 'No space left on device' | head -1",
            "dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>&1 | grep -o 'No space left on device' | head -1",
            "du -sm /sandbox/fill /tmp/fill | cut -f1",
          ].join("\n"),
        },
        { ...options, sandboxSize: "16m", tmpSize: "8m" },
      );
      assert.deepEqual(result.stdout.trim().split("\n"), [
        "No space left on device",
        "No space left on device",
        "16",
        "8",
      ]);
    });

    test("the root filesystem, /etc and /usr are read-only; /tmp is noexec; /sandbox is the only place to run from", async () => {
      const result = await runOnce(
        {
          runtime: "bash",
          code: [
            'for p in /x /etc/x /usr/x /usr/local/bin/x /sandbox/../x; do (echo > $p) 2>/dev/null && echo "wrote $p" || echo "refused $p"; done',
            "cp /bin/true /tmp/t && /tmp/t 2>/dev/null && echo 'ran /tmp' || echo 'refused /tmp'",
            "cp /bin/true /sandbox/t && /sandbox/t && echo 'ran /sandbox'",
          ].join("\n"),
        },
        options,
      );
      assert.deepEqual(result.stdout.trim().split("\n"), [
        "refused /x",
        "refused /etc/x",
        "refused /usr/x",
        "refused /usr/local/bin/x",
        "refused /sandbox/../x",
        "refused /tmp",
        "ran /sandbox",
      ]);
    });
  });

  describe(`${runtime.name}: network none`, () => {
    test("only loopback; raw sockets, TCP to the host's bridge and DNS all fail", async () => {
      const code = String.raw`
import socket, errno
print(sorted(name for _, name in socket.if_nameindex()))
try:
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); print("raw-open")
except OSError as e:
    print("raw", errno.errorcode[e.errno])
try:
    socket.create_connection(("172.17.0.1", 2375), timeout=2); print("tcp-open")
except OSError as e:
    print("tcp", errno.errorcode.get(e.errno, e.errno))
try:
    socket.getaddrinfo("example.com", 443); print("dns-open")
except OSError as e:
    print("dns-failed")
`;
      const result = await runOnce({ runtime: "python", code }, options);
      assert.deepEqual(result.stdout.trim().split("\n"), [
        "['lo']",
        "raw EPERM",
        `tcp ${runtime.noRouteErrno}`,
        "dns-failed",
      ]);
    });
  });

  describe(`${runtime.name}: timeouts`, () => {
    test("a timeout kills the whole process tree, including children that ignore SIGTERM or start new sessions", async () => {
      const isol8 = engine({ ...options, mode: "persistent" });
      const result = await isol8.execute({
        runtime: "bash",
        timeoutMs: 3000,
        code: [
          "trap '' TERM",
          "setsid bash -c 'trap \"\" TERM INT HUP; exec -a isol8-marker-daemon sleep 1000' &",
          "(bash -c 'exec -a isol8-marker-child sleep 1000' &)",
          `markers() { ${COUNT_MARKERS}; }`,
          'for i in $(seq 50); do [ "$(markers)" = 2 ] && break; sleep 0.05; done',
          'echo "started, markers alive: $(markers)"',
          "sleep 1000",
        ].join("\n"),
      });
      // The run returned at all, and timed out: the program's own sleep is 1000 s.
      assert.equal(result.timedOut, true);
      // Both were running when the timeout came...
      assert.equal(result.stdout, "started, markers alive: 2\n");
      // ...and the same container's next run finds neither.
      const check = await isol8.execute({ runtime: "bash", code: COUNT_MARKERS });
      assert.equal(check.stdout, "0\n");
    });
  });

  describe(`${runtime.name}: secrets`, () => {
    const secret = "sk-live-0123456789abcdef";

    test("a secret reaches the program but never its output, even written a byte at a time, buffered or streamed", async () => {
      const code = [
        "import os, sys, time",
        "s = os.environ['API_KEY']",
        "print('whole:', s)",
        "print('in stderr:', s, file=sys.stderr)",
        "for ch in s:",
        "    sys.stdout.write(ch); sys.stdout.flush(); time.sleep(0.01)",
        "print()",
        "print('length', len(s))",
      ].join("\n");
      const isol8 = engine({ ...options, secrets: { API_KEY: secret } });
      const result = await isol8.execute({ runtime: "python", code });
      assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret));
      assert.ok(
        !result.stdout.includes("0123456789") && !result.stderr.includes("0123456789"),
        "no long fragment of the secret",
      );
      assert.equal(result.stdout, `whole: ***\n***\nlength ${secret.length}\n`);
      assert.equal(result.stderr, "in stderr: ***\n");

      const events = await collectStream(isol8, { runtime: "python", code });
      const streamed = events.map((e) => e.event.data).join("");
      assert.ok(!streamed.includes(secret));
      assert.ok(!streamed.includes("0123456789"));
    });
  });
}
