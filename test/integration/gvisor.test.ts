// The stronger-isolation tier: sandboxes under gVisor (`ociRuntime: "runsc"`),
// a user-space kernel between the sandboxed code and the host's. The same
// denials as the normal tier must hold (test/support/conformance.ts, run
// under runsc by conformance-runsc.test.ts); where gVisor behaves
// differently, this file asserts what it does instead and says why.
//
// runsc must be registered with Docker (scripts/setup.sh does it, through
// scripts/install-gvisor.sh); the `before` hook fails with that advice when not.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { before, describe, test } from "node:test";
import { createDockerClient } from "../../src/backend/docker/client.js";
import { DockerIsol8 } from "../../src/engine/docker-isol8.js";
import { ownerLabelValue } from "../../src/engine/labels.js";
import type { DockerIsol8Options } from "../../src/types.js";
import { hostAddresses, startHttpUpstream } from "../fixtures/upstreams.js";
import { engine, runOnce } from "../support/engine.js";
import { requireRunsc } from "../support/gvisor.js";

/**
 * Options of every gVisor sandbox here: the engine's defaults, pidsLimit
 * included (the engine raises Docker's pids limit under runsc by gVisor's
 * own overhead; see container-spec.ts).
 */
const GVISOR: DockerIsol8Options = { ociRuntime: "runsc" };

before(requireRunsc);

/**
 * gVisor's kernel reports a made-up version, not the host's:
 * "Linux version 4.4.0 #1 SMP Sun Jan 10 15:06:54 PST 2016". (Its dmesg, a
 * made-up boot log starting "Starting gVisor...", would be another sign, but
 * isol8's seccomp profile refuses syslog(2) inside gVisor too.)
 */
const GVISOR_KERNEL = /^Linux version \S+ #1 SMP Sun Jan 10 15:06:54 PST 2016$/;

/** What the engine adds to pidsLimit under runsc (GVISOR_PIDS_OVERHEAD in container-spec.ts). */
const GVISOR_PIDS_ALLOWANCE = 448;

/** The pids cgroup folder Docker made for a container: cgroup v1, v2 cgroupfs or v2 systemd. */
function pidsCgroup(id: string): string | undefined {
  return [
    `/sys/fs/cgroup/pids/docker/${id}`,
    `/sys/fs/cgroup/docker/${id}`,
    `/sys/fs/cgroup/system.slice/docker-${id}.scope`,
  ].find((dir) => existsSync(`${dir}/pids.max`));
}

interface PidsReading {
  max: string;
  /** The highest pids.current seen. */
  peak: number;
  /** Forks the limit refused (pids.events `max`). */
  refused: number;
}

/** Reads, until stopped, the host's pids cgroup of every container this process owns. */
function watchPidsCgroups(): { stop(): Promise<Map<string, PidsReading>> } {
  const docker = createDockerClient();
  const seen = new Map<string, PidsReading>();
  let watching = true;
  const read = (dir: string, file: string) => readFileSync(`${dir}/${file}`, "utf8");
  const done = (async () => {
    while (watching) {
      const containers = await docker.listContainers({
        filters: { label: [`isol8.owner=${ownerLabelValue()}`] },
      });
      for (const { Id } of containers) {
        const dir = pidsCgroup(Id);
        if (!dir) continue;
        try {
          const max = read(dir, "pids.max").trim();
          const current = Number(read(dir, "pids.current"));
          const refused = Number(/^max (\d+)/m.exec(read(dir, "pids.events"))?.[1] ?? 0);
          const last = seen.get(Id);
          seen.set(Id, {
            max,
            peak: Math.max(last?.peak ?? 0, current),
            refused: Math.max(last?.refused ?? 0, refused),
          });
        } catch {
          // The container ended between the listing and the reading.
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      watching = false;
      await done;
      return seen;
    },
  };
}

/**
 * Bash that prints how many processes the markers of these tests are: one
 * line per process, counted when it starts with a marker's name (`exec -a`
 * gives them those names).
 */
const COUNT_MARKERS =
  "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done | grep -c '^isol8-marker-' || true";

describe("gVisor: programs run", () => {
  test("hello world in python, inside gVisor's kernel", async (t) => {
    const started = performance.now();
    const result = await runOnce(
      {
        runtime: "python",
        code: "print('hello from python')\nprint(open('/proc/version').read().strip())",
      },
      GVISOR,
    );
    t.diagnostic(`python hello world, fresh engine: ${Math.round(performance.now() - started)} ms`);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stderr, "");
    const [hello, kernel] = result.stdout.split("\n");
    assert.equal(hello, "hello from python");
    assert.match(kernel ?? "", GVISOR_KERNEL);
    assert.notEqual(kernel, readFileSync("/proc/version", "utf8").trim());
    // No cgroup files inside gVisor: the peak is the program's max RSS instead.
    assert.ok((result.resourceUsage?.memoryMB ?? 0) > 0);
  });

  test("hello world in bash, in a container Docker runs with runsc", async (t) => {
    const isol8 = engine({ ...GVISOR, persist: true });
    const started = performance.now();
    const result = await isol8.execute({
      runtime: "bash",
      code: "echo hello from bash; cat /proc/version",
    });
    t.diagnostic(`bash hello world, fresh engine: ${Math.round(performance.now() - started)} ms`);
    const container = createDockerClient().getContainer(result.containerId ?? "");
    try {
      assert.equal(result.exitCode, 0, result.stderr);
      assert.equal(result.stderr, "");
      const [hello, kernel] = result.stdout.split("\n");
      assert.equal(hello, "hello from bash");
      assert.match(kernel ?? "", GVISOR_KERNEL);
      assert.equal((await container.inspect()).HostConfig.Runtime, "runsc");
    } finally {
      await container.remove({ force: true });
    }
  });

  // Under runc a fast pool wipes a used container and reuses it (pool.test.ts).
  // Under gVisor the wipe cannot check memory (no memory cgroup inside), so
  // it reports the container dirty and the pool removes it (SECURITY.md):
  // the second run is in a new container, even with time for a wipe.
  test("a second run gets a new container, not the wiped first one, and sees nothing of the first", async (t) => {
    const isol8 = engine({ ...GVISOR, poolStrategy: "fast", poolSize: { clean: 1, dirty: 1 } });
    const first = await isol8.execute({
      runtime: "bash",
      code: [
        "echo x > /sandbox/left; echo y > /tmp/left",
        "setsid bash -c 'exec -a isol8-marker-left sleep 1000' >/dev/null 2>&1 &",
        // The marker is alive when this run ends.
        `for i in $(seq 50); do [ "$(${COUNT_MARKERS})" = 1 ] && break; sleep 0.1; done`,
        COUNT_MARKERS,
      ].join("\n"),
    });
    assert.equal(first.stdout, "1\n", "the marker process was alive when the first run ended");
    // Time for the background wipe, which under runc would hand the container back.
    await new Promise((r) => setTimeout(r, 1500));
    const started = performance.now();
    const result = await isol8.execute({
      runtime: "bash",
      code: [
        "echo again",
        'for f in /sandbox/left /tmp/left; do [ -e $f ] && echo "$f is left"; done',
        COUNT_MARKERS,
      ].join("\n"),
    });
    t.diagnostic(`bash hello world, same engine: ${Math.round(performance.now() - started)} ms`);
    assert.notEqual(result.containerId, first.containerId, "a container was reused under gVisor");
    assert.equal(result.stdout, "again\n0\n");
  });
});

describe("gVisor: where it differs from the normal tier", () => {
  // Under runc the kernel OOM-kills the program inside the container and the
  // supervisor reports oomKilled from the cgroup's oom_kill counter. Under
  // gVisor there are no cgroup files inside (so no oom_kill counter), and the
  // host's OOM killer kills one of gVisor's own processes instead (dmesg:
  // "exe", uid 65534, the guest memory as shmem: the ptrace stub mirroring
  // the program): the sandbox dies and the run rejects with a SandboxFailure.
  // Either way the limit holds and the host is untouched.
  // runc denies the sandbox user every /proc/1 file but cmdline and status
  // (the supervisor is non-dumpable); gVisor's /proc lets it read PID 1's
  // environ, maps, auxv and descriptor list. What they hold: the image's
  // fixed variables, the supervisor's own layout, descriptor names. No
  // descriptor opens, so the channel's bytes stay out of reach.
  test("PID 1's environ, maps and descriptor list are readable, and hold nothing of the channel, a secret or another run", async () => {
    const secret = "gv-secret-4f1c9a77e2";
    const isol8 = engine({ ...GVISOR, secrets: { API_TOKEN: secret } });
    const marker = ["earlier", "run", "marker", "93b1"].join("-");
    const first = await isol8.execute({ runtime: "python", code: `x = "${marker}"` });
    assert.equal(first.exitCode, 0, first.stderr);
    const probe = await isol8.execute({
      runtime: "python",
      code: [
        "import json, os",
        "secret = os.environ['API_TOKEN'].encode()",
        `marker = "-".join(${JSON.stringify(marker.split("-"))}).encode()`,
        "environ = open('/proc/1/environ', 'rb').read().split(b'\\0')",
        "keys = sorted(v.split(b'=')[0].decode() for v in environ if v)",
        "opened, found = [], []",
        "for fd in os.listdir('/proc/1/fd'):",
        "    try:",
        "        os.close(os.open(f'/proc/1/fd/{fd}', os.O_RDONLY | os.O_NONBLOCK))",
        "        opened.append(fd)",
        "    except OSError:",
        "        pass",
        "paths = [f'/proc/1/{n}' for n in os.listdir('/proc/1')]",
        "paths += [f'/proc/1/fdinfo/{n}' for n in os.listdir('/proc/1/fdinfo')]",
        "paths += [f'/proc/1/task/1/{n}' for n in os.listdir('/proc/1/task/1')]",
        "readable = 0",
        "for path in paths:",
        "    try:",
        "        data = open(path, 'rb').read(1 << 20)",
        "    except OSError:",
        "        continue",
        "    readable += 1",
        "    if secret in data or marker in data:",
        "        found.append(path)",
        "maps = open('/proc/1/maps').read()",
        "print(json.dumps({'keys': keys, 'fds': len(os.listdir('/proc/1/fd')), 'opened': opened,",
        "    'found': found, 'readable': readable, 'mapsSupervisor': 'isol8-supervisor' in maps}))",
      ].join("\n"),
    });
    assert.equal(probe.exitCode, 0, probe.stderr);
    const seen = JSON.parse(probe.stdout) as {
      keys: string[];
      fds: number;
      opened: string[];
      found: string[];
      readable: number;
      mapsSupervisor: boolean;
    };
    // What is readable, exactly: the image's fixed variables...
    assert.deepEqual(seen.keys, ["HOME", "HOSTNAME", "LANG", "PATH"]);
    // ...the supervisor's memory map and its descriptor list...
    assert.equal(seen.mapsSupervisor, true);
    assert.ok(seen.fds >= 3, `PID 1 lists ${seen.fds} descriptors`);
    // ...but no descriptor opens, and no readable file holds the secret or the earlier run's code.
    assert.deepEqual(seen.opened, []);
    assert.ok(seen.readable > 5, `only ${seen.readable} files of /proc/1 were read`);
    assert.deepEqual(seen.found, []);
  });

  test("a program past the memory limit ends its sandbox; the engine goes on", async (t) => {
    const isol8 = engine({ ...GVISOR, memoryLimit: "128m" });
    const started = performance.now();
    const outcome = await isol8
      .execute({
        runtime: "python",
        code: "blocks = []\nwhile True:\n    blocks.append(bytearray(16 * 1024 * 1024))",
        timeoutMs: 30_000,
      })
      .then(
        (result) => ({ result }),
        (error: Error) => ({ error }),
      );
    t.diagnostic(
      `memory bomb: ${"error" in outcome ? `${outcome.error.name}: ${outcome.error.message}` : `oomKilled=${outcome.result.oomKilled}`} after ${Math.round(performance.now() - started)} ms`,
    );
    if ("error" in outcome) assert.equal(outcome.error.name, "SandboxFailure");
    else {
      assert.equal(outcome.result.oomKilled, true);
      assert.equal(outcome.result.timedOut, false, "ended by the limit, not the timeout");
    }
    const next = await isol8.execute({ runtime: "python", code: "print('still here')" });
    assert.equal(next.stdout, "still here\n");
  });

  // Under runc the pids limit makes fork() fail inside and the run times out.
  // Under gVisor the pids cgroup counts gVisor's host threads: the sentry
  // cannot create one more ptrace stub, panics, and the sandbox dies. The
  // host's pids cgroup of each container is watched meanwhile, to show the
  // limit is what the bomb ran into, and that it is the default 64 raised by
  // the allowance the engine adds under runsc (container-spec.ts).
  test("a fork bomb runs into the raised PID limit and ends its sandbox, not the host; the engine goes on", async (t) => {
    const isol8 = engine(GVISOR);
    const watch = watchPidsCgroups();
    const started = performance.now();
    const outcome = await isol8
      .execute({ runtime: "bash", code: ":(){ :|:& };:; sleep 3; echo survived", timeoutMs: 5000 })
      .then(
        (result) => ({ result }),
        (error: Error) => ({ error }),
      );
    const cgroups = await watch.stop();
    t.diagnostic(
      `fork bomb: ${"error" in outcome ? `${outcome.error.name}: ${outcome.error.message}` : `timedOut=${outcome.result.timedOut}`} after ${Math.round(performance.now() - started)} ms; pids cgroups seen: ${JSON.stringify([...cgroups.values()])}`,
    );
    if ("error" in outcome) assert.equal(outcome.error.name, "SandboxFailure");
    else assert.equal(outcome.result.timedOut, true);
    assert.ok(cgroups.size > 0, "no pids cgroup of this engine's containers was found on the host");
    const bomb = [...cgroups.values()].sort((a, b) => b.peak - a.peak)[0];
    const limit = 64 + GVISOR_PIDS_ALLOWANCE;
    assert.equal(bomb?.max, String(limit));
    // A refused fork is counted, unless the sandbox died before a reading
    // caught it; the count it reached shows the bomb ran up to the limit then.
    assert.ok(
      bomb && (bomb.refused > 0 || bomb.peak >= limit * 0.9),
      `the bomb never reached the limit: ${JSON.stringify(bomb)}`,
    );
    const next = await isol8.execute({ runtime: "bash", code: "echo still here" });
    assert.equal(next.stdout, "still here\n");
  });

  test("with the default pidsLimit (64), programs that start a few processes run", async () => {
    const isol8 = engine({ ociRuntime: "runsc" });
    for (let i = 0; i < 3; i++) {
      const result = await isol8.execute({
        runtime: "bash",
        code: "cat /etc/hostname | cat | wc -l",
      });
      assert.equal(result.stdout, "1\n");
    }
  });
});

describe("gVisor: threads", () => {
  // runsc ignores a seccomp rule's errnoRet: a clone3 refused with EPERM
  // instead of ENOSYS left glibc no fallback, so no thread could start.
  test("python starts threads, node, bun and deno (which need them) run, and clone3 is ENOSYS, so libc uses clone", async () => {
    const isol8 = engine(GVISOR);
    const python = await isol8.execute({
      runtime: "python",
      code: [
        "import ctypes, os, threading",
        "libc = ctypes.CDLL(None, use_errno=True)",
        "print(libc.syscall(435, None, 0), os.strerror(ctypes.get_errno()))",
        "seen = []",
        "threads = [threading.Thread(target=seen.append, args=(i,)) for i in range(4)]",
        "[t.start() for t in threads]; [t.join() for t in threads]",
        "print(sorted(seen))",
      ].join("\n"),
    });
    assert.equal(python.stdout, "-1 Function not implemented\n[0, 1, 2, 3]\n", python.stderr);
    const node = await engine(GVISOR).execute({
      runtime: "node",
      code: "import { Worker } from 'node:worker_threads';\nnew Worker(\"require('node:worker_threads').parentPort.postMessage(6 * 7)\", { eval: true }).on('message', (n) => console.log(n));",
    });
    assert.equal(node.stdout, "42\n", node.stderr);
    assert.equal(node.exitCode, 0);
    for (const runtime of ["bun", "deno"] as const) {
      const hello = await isol8.execute({ runtime, code: "console.log(6 * 7)" });
      assert.equal(hello.stdout, "42\n", `${runtime}: ${hello.stderr}`);
    }
    // Namespaces stay refused: clone with a namespace flag is EPERM under runsc too.
    const unshared = await isol8.execute({
      runtime: "python",
      code: "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nprint(libc.unshare(0x10000000), os.strerror(ctypes.get_errno()))",
    });
    assert.equal(unshared.stdout, "-1 Operation not permitted\n", unshared.stderr);
  });
});

describe("gVisor: code contexts", () => {
  test("a context keeps its state, and its files are reached with docker exec under runsc", async () => {
    const isol8 = engine(GVISOR);
    const { id } = await isol8.createContext({ runtime: "python" });
    const call = (code: string) => isol8.execute({ runtime: "python", code, contextId: id });
    await isol8.putFile("/sandbox/in.txt", "20", { contextId: id });
    await call("n = int(open('/sandbox/in.txt').read())");
    const value = await call("open('/sandbox/out.txt', 'w').write(str(n + 22))\nn + 1");
    assert.equal(value.value, "21", value.stderr);
    assert.equal((await isol8.getFile("/sandbox/out.txt", { contextId: id })).toString(), "42");
    const kernel = await call("open('/proc/version').read().strip()");
    assert.match(kernel.value?.slice(1, -1) ?? "", GVISOR_KERNEL);
  });
});

describe("gVisor: filtered network", () => {
  test("the egress gateway works under runsc: allowed hosts answer, raw sockets reach nothing", async () => {
    // On every interface: the direct attempt would reach it if the sandbox had a route.
    const upstream = await startHttpUpstream("0.0.0.0");
    try {
      const isol8 = new DockerIsol8({
        ...GVISOR,
        network: "filtered",
        networkFilter: { whitelist: [`localhost:${upstream.port}`, "127\\.0\\.0\\.1"] },
        logNetwork: true,
      });
      try {
        const result = await isol8.execute({
          runtime: "bash",
          code: `curl -sS --fail http://localhost:${upstream.port}/gvisor; echo; curl -sS --max-time 3 --noproxy '*' http://${hostAddresses("IPv4")[0]}:${upstream.port}/ || echo direct refused`,
        });
        assert.equal(result.exitCode, 0, result.stderr);
        assert.equal(result.stdout, "upstream says GET /gvisor body=0\ndirect refused\n");
        assert.deepEqual(upstream.requests, ["GET /gvisor"]);
        assert.deepEqual(
          result.networkLogs?.map((e) => e.action),
          ["ALLOW"],
        );
      } finally {
        await isol8.stop();
      }
    } finally {
      await upstream.close();
    }
  });
});

describe("gVisor: an unknown runtime", () => {
  test("an unregistered ociRuntime is an error naming the option, not a silent runc", async () => {
    const isol8 = new DockerIsol8({ ociRuntime: "no-such-runtime" });
    try {
      await assert.rejects(
        isol8.execute({ runtime: "bash", code: "echo should-not-run" }),
        (error: Error) => {
          assert.equal(error.name, "InvalidOptionError");
          assert.match(error.message, /ociRuntime/);
          assert.match(error.message, /no-such-runtime/);
          assert.match(error.message, /install-gvisor\.sh/);
          assert.doesNotMatch(error.message, /\n\s+at /, "one line, not a stack dump");
          return true;
        },
      );
    } finally {
      await isol8.stop();
    }
  });
});
