// Limits and settings of the default runtime (runc) beyond what every
// runtime must hold alike (test/support/conformance.ts, run under runc by
// conformance-runc.test.ts).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createDockerClient } from "../../src/backend/docker/client.js";
import { ownerLabelValue } from "../../src/engine/labels.js";
import { collectStream, engine, runOnce } from "../support/engine.js";
import { outputRuns } from "../support/stream.js";

describe("timeouts", () => {
  test("a per-request timeout overrides the engine's", async () => {
    const result = await runOnce(
      { runtime: "python", code: "import time\ntime.sleep(30)", timeoutMs: 1000 },
      { timeoutMs: 60_000 },
    );
    // The program sleeps 30 s, less than the engine's 60 s: timing out at
    // all means the request's 1 s applied.
    assert.equal(result.timedOut, true);
  });

  test("a streamed run that times out ends with an error event, then exit", async () => {
    const isol8 = engine();
    const events = await collectStream(isol8, {
      runtime: "bash",
      code: "echo before; sleep 60",
      timeoutMs: 1000,
    });
    const types = events.map((e) => e.event.type);
    assert.deepEqual(types.slice(-2), ["error", "exit"]);
    assert.match(events.at(-2)?.event.data ?? "", /timed out after 1000 ms/);
    assert.equal(outputRuns(events.map((e) => e.event))[0], "stdout:before\n");
  });
});

describe("output limits", () => {
  test("stdout is cut at maxOutputSize and flagged, while the program runs to its end", async () => {
    const result = await runOnce(
      {
        runtime: "python",
        code: "import sys\nsys.stdout.write('x' * 3_000_000)\nprint('done', file=sys.stderr)",
      },
      { maxOutputSize: 100_000 },
    );
    assert.equal(result.truncated, true);
    assert.equal(Buffer.byteLength(result.stdout), 100_000);
    assert.equal(result.stderr, "done\n");
    assert.equal(result.exitCode, 0);
  });

  test("a stream stops delivering output past the limit and says so", async () => {
    const isol8 = engine({ maxOutputSize: 50_000 });
    const events = await collectStream(isol8, {
      runtime: "bash",
      code: "yes line | head -c 2000000",
    });
    const streamed = events
      .filter((e) => e.event.type === "stdout")
      .map((e) => e.event.data)
      .join("");
    assert.equal(Buffer.byteLength(streamed), 50_000);
    assert.ok(
      events.some((e) => e.event.type === "error" && /truncated at 50000 bytes/.test(e.event.data)),
    );
    assert.equal(events.at(-1)?.event.type, "exit");
  });

  test("output that is not valid UTF-8 arrives as replacement characters, not an error", async () => {
    const result = await runOnce({ runtime: "bash", code: "printf 'ok\\xff\\xfe\\n'" });
    assert.equal(result.stdout, "ok\uFFFD\uFFFD\n");
  });
});

describe("memory", () => {
  test("a program that exceeds the memory limit is killed and the result says out of memory", async () => {
    const result = await runOnce(
      {
        runtime: "python",
        code: "blocks = []\nwhile True:\n    blocks.append(bytearray(16 * 1024 * 1024))",
      },
      { memoryLimit: "128m" },
    );
    assert.equal(result.oomKilled, true);
    assert.notEqual(result.exitCode, 0);
    assert.ok(
      (result.resourceUsage?.memoryMB ?? 0) <= 130,
      `peak ${result.resourceUsage?.memoryMB} MB`,
    );
  });
});

describe("container settings", () => {
  test("every container is hardened, labelled and logs nothing to the host", async () => {
    const isol8 = engine({ persist: true, memoryLimit: "256m", pidsLimit: 32, cpuLimit: 0.5 });
    const result = await isol8.execute({ runtime: "bash", code: "echo ok" });
    const docker = createDockerClient();
    const container = docker.getContainer(result.containerId ?? "");
    try {
      const info = await container.inspect();
      const host = info.HostConfig;
      assert.equal(host.LogConfig?.Type, "none");
      assert.equal(host.ReadonlyRootfs, true);
      assert.equal(host.Memory, 256 * 1024 * 1024);
      assert.equal(host.MemorySwap, 256 * 1024 * 1024);
      assert.equal(host.PidsLimit, 32);
      assert.equal(host.NanoCpus, 500_000_000);
      assert.equal(host.NetworkMode, "none");
      assert.deepEqual(host.CapDrop, ["ALL"]);
      assert.ok(host.SecurityOpt?.includes("no-new-privileges:true"));
      assert.match(host.Tmpfs?.["/tmp"] ?? "", /noexec/);
      assert.match(host.Tmpfs?.["/sandbox"] ?? "", /(^|,)exec/);
      assert.equal(info.Config.Labels["isol8.managed"], "true");
      assert.equal(info.Config.Labels["isol8.owner"], ownerLabelValue());
      assert.match(
        ownerLabelValue(),
        /^[^:]+:\d+:\d+:[0-9a-f-]{36}$/,
        "host:pid:start time:boot id",
      );
      assert.equal(
        info.Config.Env?.some((e) => e.startsWith("ISOL8") || e.startsWith("AWS")),
        false,
      );
    } finally {
      await container.remove({ force: true });
    }
  });
});

describe("persistent mode", () => {
  test("files survive between executions; another runtime's image is refused with a clear error", async () => {
    const isol8 = engine({ mode: "persistent" });
    await isol8.execute({ runtime: "bash", code: "echo kept > /sandbox/state.txt" });
    const second = await isol8.execute({ runtime: "bash", code: "cat /sandbox/state.txt" });
    assert.equal(second.stdout, "kept\n");
    await assert.rejects(
      isol8.execute({ runtime: "python", code: "print(1)" }),
      /runtime: this persistent engine's container runs isol8:bash/,
    );
  });
});

describe("streaming back-pressure", () => {
  test("a slow consumer makes the program wait instead of the engine buffering without bound; the limit still holds", async () => {
    // Without back-pressure the engine would take in up to the limit (256 MB)
    // while the consumer stalls; the program offers four times as much.
    const limit = 256 * 1024 * 1024;
    const isol8 = engine({ maxOutputSize: limit });
    const rssBefore = process.memoryUsage().rss;
    let received = 0;
    let stalled = false;
    let peakGrowth = 0;
    const after: string[] = [];
    const stream = isol8.executeStream({
      runtime: "bash",
      code: `head -c ${4 * limit} /dev/zero | tr '\\0' 'z'`,
    });
    for await (const event of stream) {
      if (event.type !== "stdout") {
        after.push(event.type === "error" ? event.data : event.type);
        continue;
      }
      received += event.data.length;
      if (!stalled && received > 1_000_000) {
        stalled = true;
        // Stall for a while, as a slow client would, then read on to the end.
        for (let i = 0; i < 10; i++) {
          await new Promise((r) => setTimeout(r, 200));
          peakGrowth = Math.max(peakGrowth, process.memoryUsage().rss - rssBefore);
        }
      }
    }
    assert.ok(
      peakGrowth < 120 * 1024 * 1024,
      `engine grew by ${(peakGrowth / 1024 / 1024).toFixed(0)} MB while the consumer stalled`,
    );
    // Every byte up to the limit arrived, none past it, and the stream said so.
    assert.equal(received, limit);
    assert.equal(after.at(-1), "exit");
    assert.ok(
      after.some((data) => data.includes(`truncated at ${limit} bytes`)),
      after.join(", "),
    );
  });
});
