// Server settings that only show under load or at shutdown, on real servers:
// sessions.maxPerTenant (a tenant's sessions past it are a 429; another
// tenant is not counted against it) and shutdownGraceMs (how long close()
// lets running executions finish).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { StreamEvent } from "../../src/types.js";
import { ownContainers } from "../support/containers.js";
import { eventually } from "../support/eventually.js";
import { MASTER, run, startServer } from "../support/server.js";

describe("sessions.maxPerTenant", () => {
  test("a tenant's third session is a 429 when the limit is 2; reusing one, another tenant's, or one after a delete is not", async () => {
    const srv = await startServer({ sessions: { maxPerTenant: 2 } });
    const a = await srv.createKey("tenant-a");
    const b = await srv.createKey("tenant-b");
    const execute = (key: string, sessionId: string) =>
      srv.call("/execute", {
        method: "POST",
        key,
        body: run("echo ok", { runtime: "bash", sessionId }),
      });
    for (const id of ["one", "two"]) assert.equal((await execute(a.key, id)).status, 200, id);
    const third = await execute(a.key, "three");
    assert.equal(third.status, 429);
    assert.equal(third.headers.get("retry-after"), "60");
    assert.deepEqual(await third.json(), {
      error: "session limit reached: this tenant already has 2 sessions; delete one first",
    });
    assert.equal((await execute(a.key, "one")).status, 200, "an existing session is not a new one");
    assert.equal((await execute(b.key, "three")).status, 200, "the other tenant has its own count");
    assert.equal((await srv.call("/session/two", { method: "DELETE", key: a.key })).status, 200);
    assert.equal((await execute(a.key, "three")).status, 200, "room again after a delete");
    const listed = (await (await srv.call("/sessions", { key: a.key })).json()) as {
      sessions: { id: string }[];
    };
    assert.deepEqual(listed.sessions.map((s) => s.id).sort(), ["one", "three"]);
    await srv.server.close();
  });
});

describe("shutdownGraceMs", () => {
  /**
   * Starts a streamed run that prints "started", sleeps `seconds` and prints
   * "finished"; once "started" has arrived, gives the stdout the stream will
   * have held when it ended or broke.
   */
  async function startRun(url: string, seconds: number): Promise<{ rest: Promise<string> }> {
    const response = await fetch(`${url}/execute/stream`, {
      method: "POST",
      headers: { Authorization: `Bearer ${MASTER}`, "Content-Type": "application/json" },
      body: run(
        `import time\nprint('started', flush=True)\ntime.sleep(${seconds})\nprint('finished')`,
      ),
    });
    assert.equal(response.status, 200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    const stdout = () =>
      text
        .split("\n")
        .filter((line) => line.startsWith("data: "))
        .map((line) => JSON.parse(line.slice(6)) as StreamEvent)
        .flatMap((event) => (event.type === "stdout" ? [event.data] : []))
        .join("");
    let started: () => void = () => undefined;
    const seen = new Promise<void>((resolve) => {
      started = resolve;
    });
    const rest = (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
          if (stdout().startsWith("started\n")) started();
        }
      } catch {
        // The server cut the connection: what arrived before is the answer.
      }
      return stdout();
    })();
    await Promise.race([seen, rest]);
    assert.match(stdout(), /^started\n/);
    return { rest };
  }

  test("a run longer than the grace is cut at close(): 1 s of grace, a 6 s run (the default 10 s would let it finish)", async () => {
    const srv = await startServer({ shutdownGraceMs: 1000 });
    const { rest } = await startRun(srv.url, 6);
    await srv.server.close();
    assert.equal(await rest, "started\n", "the run was cut before it finished");
    assert.ok(
      await eventually(async () => (await ownContainers()).length === 0, 15_000),
      "the server's containers are gone",
    );
  });

  test("a run shorter than the grace finishes: 60 s of grace, an 11 s run (the default 10 s would cut it)", async () => {
    const srv = await startServer({ shutdownGraceMs: 60_000 });
    const { rest } = await startRun(srv.url, 11);
    await srv.server.close();
    assert.equal(await rest, "started\nfinished\n");
    assert.ok(
      await eventually(async () => (await ownContainers()).length === 0, 15_000),
      "the server's containers are gone",
    );
  });
});
