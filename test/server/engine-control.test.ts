// The engine API the server builds on: executeStream's kill() and abort
// signal (added to DockerIsol8 for /execute/ws signals and SSE disconnects).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { StreamEvent } from "../../src/types.js";
import { docker } from "../support/containers.js";
import { engine } from "../support/engine.js";

const isol8 = engine({ poolSize: { clean: 0, dirty: 0 } });

async function drain(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const seen: StreamEvent[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

describe("DockerIsol8.executeStream control", () => {
  test("kill() before the program has a container is delivered once it starts", async () => {
    const run = isol8.executeStream({ runtime: "bash", cmd: "sleep 30" });
    run.kill("SIGTERM");
    const events = await drain(run);
    assert.equal(events.at(-1)?.type, "exit");
    // 143 is SIGTERM's: the sleep did not run out on its own (that is 0).
    assert.equal(events.at(-1)?.data, "143");
  });

  test("aborting ends a silent run at once, throws the reason, and removes its container", async () => {
    const abort = new AbortController();
    const run = isol8.executeStream(
      {
        runtime: "python",
        // Longer than the suite lets a test run: only the abort can end it in time.
        code: "import socket, time\nprint(socket.gethostname(), flush=True)\ntime.sleep(3600)",
      },
      { signal: abort.signal },
    );
    let host = "";
    await assert.rejects(
      (async () => {
        for await (const event of run) {
          if (event.type === "stdout") host += event.data;
          if (host.includes("\n")) abort.abort(new Error("stop now"));
        }
      })(),
      /stop now/,
    );
    const left = await docker.listContainers({ all: true, filters: { id: [host.trim()] } });
    assert.deepEqual(left, []);
  });

  test("an already aborted signal runs nothing", async () => {
    const abort = new AbortController();
    abort.abort(new Error("too late"));
    await assert.rejects(
      drain(isol8.executeStream({ runtime: "bash", cmd: "echo hi" }, { signal: abort.signal })),
      /too late/,
    );
  });

  test("kill() after the run has ended is a no-op; an unknown signal is refused", async () => {
    const run = isol8.executeStream({ runtime: "bash", cmd: "echo hi" });
    await drain(run);
    run.kill("SIGINT");
    assert.throws(() => run.kill("SIGWHAT" as "SIGINT"), /signal: "SIGWHAT" is not one of/);
  });
});
