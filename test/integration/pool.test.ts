import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, test } from "node:test";
import { DockerIsol8 } from "../../src/engine/docker-isol8.js";
import { containersOf } from "../support/containers.js";
import { engine } from "../support/engine.js";
import { eventually } from "../support/eventually.js";

/** A shell function printing how many processes are named isol8-pool-marker, one line per process. */
const COUNT_MARKERS =
  "markers() { for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '^isol8-pool-marker ' || true; }";

describe("warm pool", () => {
  test("fast: a container is reused, and the next run sees nothing of the last one", async () => {
    const isol8 = engine({ poolStrategy: "fast", poolSize: { clean: 1, dirty: 1 } });
    const first = await isol8.execute({
      runtime: "bash",
      env: { LEFTOVER: "from-run-1" },
      code: [
        "echo secret > /sandbox/left.txt; mkdir -p /sandbox/d/e; chmod 000 /sandbox/d",
        "echo temp > /tmp/left.txt",
        "setsid bash -c 'exec -a isol8-pool-marker sleep 1000' >/dev/null 2>&1 &",
        "export IN_SHELL=1",
        // The marker is alive when this run ends (once it has exec'd: the
        // bash before it has the name only inside its command line).
        COUNT_MARKERS,
        'for i in $(seq 50); do [ "$(markers)" = 1 ] && break; sleep 0.1; done',
        "markers",
      ].join("\n"),
    });
    assert.equal(first.stdout, "1\n", "the marker process ran before the reuse");
    // Give the background wipe its moment, then run again.
    await new Promise((r) => setTimeout(r, 300));
    const second = await isol8.execute({
      runtime: "bash",
      code: [
        "ls -A /sandbox | grep -v '^main.sh$' | wc -l",
        "ls -A /tmp | wc -l",
        COUNT_MARKERS,
        "markers",
        'echo "${LEFTOVER:-unset} ${IN_SHELL:-unset}"',
      ].join("\n"),
    });
    assert.equal(second.containerId, first.containerId, "the container was reused");
    assert.deepEqual(second.stdout.trim().split("\n"), ["0", "0", "0", "unset unset"]);
  });

  test("fast: a run that fills /sandbox leaves a clean container behind", async () => {
    const isol8 = engine({ sandboxSize: "8m", poolSize: { clean: 1, dirty: 1 } });
    const fill = await isol8.execute({
      runtime: "bash",
      code: "dd if=/dev/zero of=/sandbox/fill bs=1M count=20 2>/dev/null; echo filled",
    });
    assert.equal(fill.stdout, "filled\n");
    await new Promise((r) => setTimeout(r, 300));
    const after = await isol8.execute({
      runtime: "bash",
      code: "df -k /sandbox | awk 'NR==2 {print $3}'; echo ok > /sandbox/x && cat /sandbox/x",
    });
    assert.equal(after.containerId, fill.containerId);
    const [usedKb, ok] = after.stdout.trim().split("\n");
    assert.ok(Number(usedKb) < 100, `used ${usedKb} KB`);
    assert.equal(ok, "ok");
  });

  test("secure: every execution gets a container no earlier execution used", async () => {
    const isol8 = engine({ poolStrategy: "secure", poolSize: { clean: 2, dirty: 0 } });
    const ids = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const result = await isol8.execute({ runtime: "bash", code: `echo ${i}` });
      assert.equal(result.stdout, `${i}\n`);
      ids.add(result.containerId ?? "");
    }
    assert.equal(ids.size, 4);
  });

  test("maxConcurrent runs at most that many at once and serves the rest in arrival order", async () => {
    const isol8 = engine({ maxConcurrent: 2, poolSize: { clean: 2, dirty: 2 } });
    const finished: number[] = [];
    const runs = [0, 1, 2, 3, 4].map(async (i) => {
      await new Promise((r) => setTimeout(r, i * 20)); // arrive in order
      const result = await isol8.execute({
        runtime: "bash",
        code: "cat /proc/loadavg >/dev/null; sleep 0.4; echo done",
      });
      finished.push(i);
      return result;
    });
    const started = performance.now();
    const results = await Promise.all(runs);
    const elapsed = performance.now() - started;
    assert.ok(results.every((r) => r.stdout === "done\n"));
    // Five runs of 0.4 s, two at a time: at least three rounds.
    assert.ok(elapsed >= 1150, `took ${elapsed.toFixed(0)} ms`);
    assert.deepEqual(finished.slice(0, 2).sort(), [0, 1]);
    assert.equal(finished.at(-1), 4);
  });

  test("stop() drains the pool and removes every container the engine made", async () => {
    const isol8 = new DockerIsol8({ poolSize: { clean: 3, dirty: 1 } });
    await isol8.execute({ runtime: "bash", code: "true" });
    assert.ok(
      await eventually(async () => (await containersOf(process.pid)).length >= 3),
      "the pool filled up",
    );
    await isol8.stop();
    assert.deepEqual(await containersOf(process.pid), []);
  });

  test("a process killed with its pool warm leaves no container behind (SIGTERM and SIGKILL)", async () => {
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      const script = `
        import { DockerIsol8 } from "./src/engine/docker-isol8.ts";
        const isol8 = new DockerIsol8({ poolSize: { clean: 2, dirty: 1 } });
        await isol8.execute({ runtime: "bash", code: "true" });
        console.log("warm");
        setInterval(() => {}, 1000);
      `;
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "--input-type=module", "-e", script],
        {
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
      const pid = child.pid ?? 0;
      assert.ok(
        await eventually(async () => (await containersOf(pid)).length >= 2),
        "the pool filled up",
      );
      child.kill(signal);
      await new Promise((resolve) => child.once("exit", resolve));
      assert.ok(
        await eventually(async () => (await containersOf(pid)).length === 0, 15_000),
        `containers left after ${signal}`,
      );
    }
  });
});
