// Every key of isol8.config.json, shown to take effect: for each one, the
// built CLI runs in a folder whose isol8.config.json sets it, the behaviour
// changes, and the flag for that key (where there is one) wins over the file.
// A final test checks that no key of the schema went without a test here
// (remoteCode.* belongs to another suite).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { arch, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { configSchema } from "../../src/config/file.js";
import {
  type PackageIndex,
  startNpmRegistry,
  startPythonIndex,
} from "../fixtures/package-index.js";
import {
  makeTestCa,
  startHttpsUpstream,
  startHttpUpstream,
  type Upstream,
} from "../fixtures/upstreams.js";
import { type CliResult, cleanEnv, envTrusting, isol8, ok } from "../support/cli.js";

/** Keys a test below exercises, filled as the tests are declared. */
const covered = new Set<string>();

/** Declares the test of one (or more) configuration keys. */
function keyTest(
  keys: string | string[],
  name: string,
  fn: () => Promise<void>,
  skip: string | false = false,
): void {
  const list = typeof keys === "string" ? [keys] : keys;
  for (const key of list) covered.add(key);
  test(`${list.join(", ")}: ${name}`, { skip }, fn);
}

const scratch = mkdtempSync(join(tmpdir(), "isol8-config-keys-"));
let folders = 0;

/** A fresh working directory holding this isol8.config.json. */
function project(config: unknown): string {
  const dir = join(scratch, `project-${++folders}`);
  mkdirSync(dir);
  writeFileSync(join(dir, "isol8.config.json"), JSON.stringify(config));
  return dir;
}

/** A file in the scratch folder. */
function scratchFile(name: string, content: string): string {
  const path = join(scratch, name);
  writeFileSync(path, content);
  return path;
}

/** `isol8 run ARGS` in a folder configured with `config`, trusted by the user (HOME is a fresh folder). */
async function runWith(config: unknown, args: string[]): Promise<CliResult> {
  const cwd = project(config);
  return isol8(["run", ...args], { cwd, env: await envTrusting(cwd) });
}

/** cgroup v1 or v2: the CPU quota as "QUOTA PERIOD". */
const CPU_MAX =
  "cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)";
const PIDS_MAX = "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max";
const MEMORY_MAX =
  "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes";
/** Size in KiB of the filesystem mounted at $1. */
const DF = (path: string) => `df -k ${path} | awk 'NR==2{print $2}'`;
/** Forks (each child sleeping) until the pids limit says no, at most 40. */
const FORKS = [
  "import os, time",
  "n = 0",
  "try:",
  "    while n < 40:",
  "        if os.fork() == 0:",
  "            time.sleep(5)",
  "            os._exit(0)",
  "        n += 1",
  "except OSError:",
  "    pass",
  "print(n)",
].join("\n");
const UNSHARE = "import ctypes; print(ctypes.CDLL(None, use_errno=True).unshare(0))";

/** Python that makes getpid through int 0x80 in a child and prints "same" if it answered the child's pid. */
const IA32_GETPID = [
  "import subprocess, sys",
  "child = 'import ctypes, mmap, os\\n' + \\",
  "  'p = mmap.mmap(-1, 4096, prot=7); p.write(bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3]))\\n' + \\",
  "  'f = ctypes.CFUNCTYPE(ctypes.c_int32)(ctypes.addressof(ctypes.c_char.from_buffer(p)))\\n' + \\",
  '  \'print("same" if f() == os.getpid() else "other")\'',
  "run = subprocess.run([sys.executable, '-c', child], capture_output=True, text=True)",
  "print(run.stdout.strip() or f'status {run.returncode}')",
].join("\n");

// Each test runs its own CLI processes in its own folder, and the upstreams
// it reaches are asked only for its own paths, so two run at a time.
describe("every isol8.config.json key takes effect in isol8 run, and its flag wins", {
  concurrency: 2,
}, () => {
  let http: Upstream;
  let https: Upstream;
  let caFile: string;
  let otherCaFile: string;
  let pypiA: PackageIndex;
  let pypiB: PackageIndex;
  let npmA: PackageIndex;
  let npmB: PackageIndex;

  before(async () => {
    const ca = makeTestCa();
    caFile = scratchFile("ca.pem", ca.caPem);
    otherCaFile = scratchFile("other-ca.pem", makeTestCa().caPem);
    http = await startHttpUpstream();
    https = await startHttpsUpstream(ca);
    const wheel = (who: string) => ({
      name: "isol8-keys-fixture",
      version: "1.0.0",
      modules: { "isol8_keys_fixture.py": `WHO = ${JSON.stringify(who)}\n` },
    });
    pypiA = await startPythonIndex([wheel("index A")]);
    pypiB = await startPythonIndex([wheel("index B")]);
    const tarball = (who: string) => ({
      name: "isol8-keys-fixture",
      version: "1.0.0",
      files: { "index.js": `module.exports = ${JSON.stringify(who)};\n` },
    });
    npmA = await startNpmRegistry([tarball("registry A")]);
    npmB = await startNpmRegistry([tarball("registry B")]);
  });
  after(async () => {
    await Promise.all([http, https, pypiA, pypiB, npmA, npmB].map((s) => s?.close()));
  });

  /** Allow rules for the local upstream on `port` (the name, and its loopback address). */
  const local = (port: number) => [`localhost:${port}`, "127\\.0\\.0\\.1"];
  const curl = (url: string) => ["--cmd", `curl -sS --fail --max-time 10 ${url}`];

  keyTest("defaults.timeoutMs", "a sleep is killed (124); --timeout wins", async () => {
    const config = { defaults: { timeoutMs: 1000 } };
    const sleep = "import time; time.sleep(3); print('slept')";
    const killed = await runWith(config, ["-e", sleep]);
    assert.equal(killed.code, 124, killed.stderr);
    assert.match(killed.stderr, /timed out after 1000 ms/);
    assert.equal(ok(await runWith(config, ["-e", sleep, "--timeout", "15000"])).stdout, "slept\n");
  });

  keyTest("defaults.memoryLimit", "a memory hog is OOM-killed (137); --memory wins", async () => {
    const config = { defaults: { memoryLimit: "64m" } };
    const hog = "b = b'x' * (150 * 1024 * 1024); print('survived')";
    const killed = await runWith(config, ["-e", hog]);
    assert.equal(killed.code, 137, killed.stderr);
    assert.match(killed.stderr, /out of memory: a process was killed at the 67108864-byte/);
    assert.equal(ok(await runWith(config, ["--cmd", MEMORY_MAX])).stdout, `${64 * 1024 * 1024}\n`);
    assert.equal(ok(await runWith(config, ["-e", hog, "--memory", "400m"])).stdout, "survived\n");
  });

  keyTest("defaults.cpuLimit", "the cgroup's CPU quota; --cpu wins", async () => {
    const config = { defaults: { cpuLimit: 0.5 } };
    assert.equal(ok(await runWith(config, ["--cmd", CPU_MAX])).stdout, "50000 100000\n");
    const flag = ok(await runWith(config, ["--cmd", CPU_MAX, "--cpu", "1.5"]));
    assert.equal(flag.stdout, "150000 100000\n");
  });

  keyTest("defaults.pidsLimit", "forks stop at the limit; --pids-limit wins", async () => {
    const config = { defaults: { pidsLimit: 16 } };
    assert.equal(ok(await runWith(config, ["--cmd", PIDS_MAX])).stdout, "16\n");
    const limited = Number(ok(await runWith(config, ["-e", FORKS])).stdout);
    assert.ok(limited > 0 && limited < 16, `forked ${limited} under a limit of 16`);
    const flag = ok(await runWith(config, ["-e", FORKS, "--pids-limit", "64"]));
    assert.equal(flag.stdout, "40\n");
  });

  keyTest("defaults.sandboxSize", "the size of /sandbox; --sandbox-size wins", async () => {
    const config = { defaults: { sandboxSize: "32m" } };
    assert.equal(ok(await runWith(config, ["--cmd", DF("/sandbox")])).stdout, "32768\n");
    const flag = ok(await runWith(config, ["--cmd", DF("/sandbox"), "--sandbox-size", "48m"]));
    assert.equal(flag.stdout, "49152\n");
    const full = await runWith(config, [
      "--cmd",
      "head -c 40m /dev/zero > /sandbox/big || echo full",
    ]);
    assert.match(full.stdout + full.stderr, /No space left on device/);
  });

  keyTest("defaults.tmpSize", "the size of /tmp; --tmp-size wins", async () => {
    const config = { defaults: { tmpSize: "16m" } };
    assert.equal(ok(await runWith(config, ["--cmd", DF("/tmp")])).stdout, "16384\n");
    const flag = ok(await runWith(config, ["--cmd", DF("/tmp"), "--tmp-size", "24m"]));
    assert.equal(flag.stdout, "24576\n");
  });

  keyTest(
    "defaults.readonlyRootFs",
    "false mounts / read-write; --writable wins over true",
    async () => {
      const rootMode = ["--cmd", `awk '$2=="/"{split($4, o, ","); print o[1]}' /proc/mounts`];
      assert.equal(ok(await runWith({}, rootMode)).stdout, "ro\n");
      const writable = { defaults: { readonlyRootFs: false } };
      assert.equal(ok(await runWith(writable, rootMode)).stdout, "rw\n");
      const readonly = { defaults: { readonlyRootFs: true } };
      assert.equal(ok(await runWith(readonly, rootMode)).stdout, "ro\n");
      assert.equal(ok(await runWith(readonly, [...rootMode, "--writable"])).stdout, "rw\n");
    },
  );

  keyTest("defaults.maxOutputSize", "output is cut at the limit; --max-output wins", async () => {
    const config = { defaults: { maxOutputSize: 100 } };
    const print = ["-e", "print('x' * 1000)"];
    const cut = ok(await runWith(config, print));
    assert.equal(cut.stdout, "x".repeat(100));
    assert.match(cut.stderr, /output truncated at 100 bytes/);
    const flag = ok(await runWith(config, [...print, "--max-output", "5000"]));
    assert.equal(flag.stdout, `${"x".repeat(1000)}\n`);
  });

  keyTest(
    "defaults.ociRuntime",
    "runsc runs the sandbox under gVisor; --oci-runtime wins",
    async () => {
      const host = ok(await runWith({}, ["--cmd", "uname -r"])).stdout;
      const gvisor = { defaults: { ociRuntime: "runsc" } };
      const underGvisor = ok(await runWith(gvisor, ["--cmd", "uname -r"])).stdout;
      assert.notEqual(underGvisor, host, "gVisor reports its own kernel release");
      assert.equal(underGvisor, "4.4.0\n");
      const flag = ok(await runWith(gvisor, ["--cmd", "uname -r", "--oci-runtime", "runc"]));
      assert.equal(flag.stdout, host);
      const unknown = await runWith({ defaults: { ociRuntime: "isol8-nosuch" } }, ["-e", "1"]);
      assert.equal(unknown.code, 2, unknown.stderr);
      assert.match(unknown.stderr, /"isol8-nosuch" is not registered with Docker/);
    },
  );

  keyTest("defaults.network", "host gives the host's interfaces; --net wins", async () => {
    const interfaces = ["--cmd", "ls /sys/class/net | tr '\\n' ' '"];
    assert.equal(ok(await runWith({}, interfaces)).stdout, "lo ");
    const hostNet = { defaults: { network: "host" } };
    assert.notEqual(ok(await runWith(hostNet, interfaces)).stdout, "lo ");
    assert.equal(ok(await runWith(hostNet, [...interfaces, "--net", "none"])).stdout, "lo ");
    // filtered: see network.whitelist
  });

  keyTest(
    "network.whitelist",
    "with defaults.network filtered, the local upstream is reachable; --allow replaces the list",
    async () => {
      const config = {
        defaults: { network: "filtered" },
        network: { whitelist: local(http.port) },
      };
      const reached = ok(await runWith(config, curl(`http://localhost:${http.port}/allowed`)));
      assert.equal(reached.stdout, "upstream says GET /allowed body=0");
      const unlisted = await runWith({ defaults: { network: "filtered" } }, [
        ...curl(`http://localhost:${http.port}/unlisted`),
      ]);
      assert.notEqual(unlisted.code, 0);
      const replaced = await runWith(config, [
        "--allow",
        "elsewhere\\.test",
        "--net-log",
        ...curl(`http://localhost:${http.port}/replaced`),
      ]);
      assert.notEqual(replaced.code, 0);
      assert.match(replaced.stderr, /BLOCK GET localhost:\d+\/replaced \(not on the allow list\)/);
      // Of this test's requests, only the allowed one reached the upstream
      // (the other tests, running beside this one, use other paths).
      const mine = ["GET /allowed", "GET /unlisted", "GET /replaced"];
      assert.deepEqual(
        http.requests.filter((request) => mine.includes(request)),
        ["GET /allowed"],
      );
      const none = await runWith(config, [
        "--net",
        "none",
        ...curl(`http://localhost:${http.port}/none`),
      ]);
      assert.notEqual(none.code, 0, "--net none wins over defaults.network");
    },
  );

  keyTest(
    "network.blacklist",
    "a listed host is refused; --deny replaces only the blacklist",
    async () => {
      const config = {
        defaults: { network: "filtered" },
        network: { whitelist: local(http.port), blacklist: ["localhost"] },
      };
      const denied = await runWith(config, [
        "--net-log",
        ...curl(`http://localhost:${http.port}/denied`),
      ]);
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /isol8 net: BLOCK GET localhost:\d+\/denied /);
      // The flag replaces network.blacklist; network.whitelist still comes from the file.
      const flag = ok(
        await runWith(config, [
          "--deny",
          "elsewhere\\.test",
          ...curl(`http://localhost:${http.port}/ok`),
        ]),
      );
      assert.equal(flag.stdout, "upstream says GET /ok body=0");
      // And --allow alone keeps the file's blacklist: deny still wins.
      const allowOnly = await runWith(config, [
        "--allow",
        `localhost:${http.port}`,
        "--allow",
        "127\\.0\\.0\\.1",
        ...curl(`http://localhost:${http.port}/still-denied`),
      ]);
      assert.notEqual(allowOnly.code, 0);
      assert.ok(!http.requests.some((r) => r.includes("denied")), http.requests.join(", "));
    },
  );

  keyTest("network.ports", "a port other than 80/443 for rules without one", async () => {
    const rules = ["localhost", "127\\.0\\.0\\.1"];
    const without = await runWith(
      { defaults: { network: "filtered" }, network: { whitelist: rules } },
      ["--net-log", ...curl(`http://localhost:${http.port}/no-port`)],
    );
    assert.notEqual(without.code, 0);
    assert.match(without.stderr, /BLOCK GET localhost:\d+\/no-port/);
    const withPort = ok(
      await runWith(
        { defaults: { network: "filtered" }, network: { whitelist: rules, ports: [http.port] } },
        curl(`http://localhost:${http.port}/port`),
      ),
    );
    assert.equal(withPort.stdout, "upstream says GET /port body=0");
  });

  keyTest(
    "network.caCertificates",
    "a private CA is trusted inside; --ca-cert replaces the list",
    async () => {
      const url = `https://localhost:${https.port}/tls`;
      const base = { defaults: { network: "filtered" } };
      const whitelist = local(https.port);
      const trusted = ok(
        await runWith({ ...base, network: { whitelist, caCertificates: [caFile] } }, curl(url)),
      );
      assert.equal(trusted.stdout, "upstream says GET /tls body=0");
      const untrusted = await runWith({ ...base, network: { whitelist } }, curl(url));
      assert.notEqual(untrusted.code, 0);
      assert.match(untrusted.stderr, /certificate/i);
      const replaced = await runWith(
        { ...base, network: { whitelist, caCertificates: [caFile] } },
        ["--ca-cert", otherCaFile, ...curl(url)],
      );
      assert.notEqual(replaced.code, 0);
      assert.match(replaced.stderr, /certificate/i);
    },
  );

  keyTest(
    "security.seccomp",
    "unconfined allows unshare, strict refuses it; --seccomp wins",
    async () => {
      assert.equal(ok(await runWith({}, ["-e", UNSHARE])).stdout, "-1\n");
      const unconfined = { security: { seccomp: "unconfined" } };
      assert.equal(ok(await runWith(unconfined, ["-e", UNSHARE])).stdout, "0\n");
      const flag = ok(await runWith(unconfined, ["-e", UNSHARE, "--seccomp", "strict"]));
      assert.equal(flag.stdout, "-1\n");
    },
  );

  keyTest(
    "security.compatAbis",
    "true lets a 32-bit x86 system call through the strict profile; without it the caller is killed",
    async () => {
      const code = ["--runtime", "python", "-e", IA32_GETPID];
      assert.equal(ok(await runWith({}, code)).stdout, "status -31\n");
      const compat = { security: { compatAbis: true } };
      assert.equal(ok(await runWith(compat, code)).stdout, "same\n");
    },
    arch() !== "x64" && "int 0x80 exists only on x86-64 hosts",
  );

  keyTest(
    "security.customProfilePath",
    "the custom profile's rule applies; --seccomp-profile wins, and the key merges with --seccomp custom",
    async () => {
      const noSymlinks = scratchFile(
        "no-symlinks.json",
        JSON.stringify({
          defaultAction: "SCMP_ACT_ALLOW",
          syscalls: [{ names: ["symlink", "symlinkat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
        }),
      );
      const allowAll = scratchFile(
        "allow-all.json",
        JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW" }),
      );
      const link = ["--cmd", "ln -s /sandbox /sandbox/link && echo linked"];
      assert.equal(ok(await runWith({}, link)).stdout, "linked\n");
      const custom = { security: { seccomp: "custom", customProfilePath: noSymlinks } };
      const refused = await runWith(custom, link);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /Operation not permitted/);
      const flag = ok(await runWith(custom, [...link, "--seccomp-profile", allowAll]));
      assert.equal(flag.stdout, "linked\n");
      // Only the path in the file, the mode from the flag: the two merge.
      const pathOnly = { security: { customProfilePath: noSymlinks } };
      const merged = await runWith(pathOnly, [...link, "--seccomp", "custom"]);
      assert.match(merged.stderr, /Operation not permitted/);
    },
  );

  keyTest("registries.pip", "--install reads the file's index; --pip-index-url wins", async () => {
    const program = [
      "--install",
      "isol8-keys-fixture",
      "-e",
      "import isol8_keys_fixture as f; print(f.WHO)",
    ];
    const config = { registries: { pip: pypiA.url } };
    assert.equal(ok(await runWith(config, program)).stdout, "index A\n");
    const flag = ok(await runWith(config, [...program, "--pip-index-url", pypiB.url]));
    assert.equal(flag.stdout, "index B\n");
  });

  keyTest(
    "registries.npm",
    "node's --install reads the file's registry; --npm-registry wins",
    async () => {
      const program = [
        "--runtime",
        "node",
        "--install",
        "isol8-keys-fixture",
        "-e",
        "import who from 'isol8-keys-fixture'; console.log(who)",
      ];
      // registries.pip in the same file: the section merges key by key with the flag's.
      const config = { registries: { npm: npmA.url, pip: pypiA.url } };
      // npm's own summary ("added 1 package") goes to stderr: stdout is the program's alone.
      assert.equal(ok(await runWith(config, program)).stdout, "registry A\n");
      const flag = ok(await runWith(config, [...program, "--npm-registry", npmB.url]));
      assert.equal(flag.stdout, "registry B\n");
    },
  );

  for (const runtime of ["python", "node", "bun", "deno", "bash"] as const) {
    keyTest(
      `dependencies.${runtime}`,
      "isol8 config shows it and isol8 setup reads it (an invalid name is refused before building); the flag wins",
      async () => {
        const cwd = project({ dependencies: { [runtime]: ["-from-the-file"] } });
        const env = await envTrusting(cwd);
        const shown = JSON.parse(ok(await isol8(["config", "--json"], { cwd, env })).stdout);
        assert.deepEqual(shown.effective[`dependencies.${runtime}`], ["-from-the-file"]);
        const setup = await isol8(["setup", "--runtime", runtime], { cwd, env });
        assert.equal(setup.code, 2, setup.stderr);
        assert.match(
          setup.stderr,
          new RegExp(`^isol8: ${runtime} package "-from-the-file": `, "m"),
        );
        const flag = await isol8(
          ["setup", "--runtime", runtime, `--${runtime}`, "-from-the-flag"],
          { cwd, env },
        );
        assert.equal(flag.code, 2, flag.stderr);
        assert.match(flag.stderr, /"-from-the-flag"/);
      },
    );
  }

  test("./isol8.config.json is layered over ~/.isol8/config.json key by key, and may narrow it without trust", async () => {
    const env = cleanEnv();
    mkdirSync(join(env.HOME ?? "", ".isol8"));
    writeFileSync(
      join(env.HOME ?? "", ".isol8", "config.json"),
      JSON.stringify({ defaults: { cpuLimit: 0.5, pidsLimit: 20 } }),
    );
    const cwd = project({ defaults: { cpuLimit: 0.25 } });
    const both = ok(await isol8(["run", "--cmd", `${CPU_MAX}; ${PIDS_MAX}`], { env, cwd }));
    assert.equal(both.stdout, "25000 100000\n20\n");
    assert.match(
      both.stderr,
      /^isol8: configuration read from .*\.isol8\/config\.json \(user\), .*isol8\.config\.json \(project, narrows only\)$/m,
    );
    const homeOnly = ok(
      await isol8(["run", "--cmd", `${CPU_MAX}; ${PIDS_MAX}`], {
        env,
        cwd: mkdtempSync(join(tmpdir(), "isol8-no-config-")),
      }),
    );
    assert.equal(homeOnly.stdout, "50000 100000\n20\n");
  });

  test("every key of the configuration schema has a test above", () => {
    const keys: string[] = [];
    for (const [section, schema] of Object.entries(configSchema.shape)) {
      if (section === "$schema" || section === "remoteCode") continue;
      const inner = (schema as { unwrap?: () => unknown }).unwrap?.() ?? schema;
      const shape = (inner as { shape?: Record<string, unknown> }).shape;
      if (shape) for (const key of Object.keys(shape)) keys.push(`${section}.${key}`);
      else keys.push(section);
    }
    assert.deepEqual(
      keys.filter((key) => !covered.has(key)),
      [],
      "configuration keys without a test in this file",
    );
  });
});
