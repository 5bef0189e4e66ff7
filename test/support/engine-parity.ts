// What a caller of the Isol8Engine interface may rely on whichever engine it
// holds: one list of cases, run against a local DockerIsol8
// (test/integration/engine-parity-docker.test.ts) and a RemoteIsol8 talking
// to a real server in-process (test/server/engine-parity-remote.test.ts),
// so the two are held to the same assertions instead of copies of them.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidRequestError } from "../../src/engine/request.js";
import type { Isol8Engine } from "../../src/isol8-engine.js";
import type { StreamEvent } from "../../src/types.js";

/** One kind of engine the cases run against. */
export interface EngineUnderTest {
  /** The name tests are listed under. */
  name: string;
  /**
   * A new engine, stopped when the test file ends. With `session`, one
   * whose /sandbox keeps files between calls (a persistent DockerIsol8; a
   * RemoteIsol8 with a sessionId).
   */
  make(kind?: { session?: boolean }): Isol8Engine;
}

/** Registers every parity case for `target`. */
export function engineParity(target: EngineUnderTest): void {
  describe(`${target.name}: the Isol8Engine behaviours`, () => {
    test("execute runs a program and returns its output and exit code", async () => {
      const result = await target.make().execute({
        runtime: "python",
        code: "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)",
      });
      assert.equal(result.stdout, "out\n");
      assert.equal(result.stderr, "err\n");
      assert.equal(result.exitCode, 3);
      assert.equal(result.timedOut, false);
    });

    test("aborting a stream's signal ends it at once, throwing the reason; the engine runs on", async () => {
      const engine = target.make();
      const abort = new AbortController();
      const reason = new Error("the caller aborted");
      const seen: StreamEvent[] = [];
      const started = performance.now();
      const run = engine.executeStream(
        {
          runtime: "python",
          code: "import time; print('started', flush=True); time.sleep(60); print('never')",
        },
        { signal: abort.signal },
      );
      await assert.rejects(
        (async () => {
          for await (const event of run) {
            seen.push(event);
            if (event.type === "stdout") abort.abort(reason);
          }
        })(),
        (error: unknown) => error === reason,
      );
      const elapsed = performance.now() - started;
      // Nothing after the event that aborted: however the output was cut
      // into chunks, that was the first piece of "started\n".
      assert.equal(seen.length, 1, JSON.stringify(seen));
      assert.equal(seen[0]?.type, "stdout");
      const first = String((seen[0] as { data?: unknown }).data);
      assert.ok(first.length > 0 && "started\n".startsWith(first), JSON.stringify(seen));
      assert.ok(elapsed < 30_000, `the aborted stream ended after ${elapsed} ms`);
      // A signal aborted before the stream starts refuses it at once.
      await assert.rejects(
        engine.executeStream({ runtime: "python", code: "1" }, { signal: abort.signal }).next(),
        (error: unknown) => error === reason,
      );
      assert.equal((await engine.execute({ runtime: "python", code: "print(2)" })).stdout, "2\n");
    });

    test("a refused field is an InvalidRequestError, from execute and from executeStream", async () => {
      const engine = target.make();
      const refused = (error: unknown) => {
        assert.ok(error instanceof InvalidRequestError, `${error}`);
        assert.equal(error.code, "INVALID_REQUEST");
        assert.match(error.message, /timeoutMs/);
        return true;
      };
      await assert.rejects(
        engine.execute({ runtime: "python", code: "1", timeoutMs: -5 }),
        refused,
      );
      await assert.rejects(
        engine.executeStream({ runtime: "python", code: "1", timeoutMs: -5 }).next(),
        refused,
      );
    });

    test("a program past its timeout is killed and reported as timed out", async () => {
      const started = performance.now();
      const result = await target.make().execute({
        runtime: "python",
        code: "import time; print('before', flush=True); time.sleep(60)",
        timeoutMs: 1500,
      });
      assert.equal(result.timedOut, true);
      assert.equal(result.stdout, "before\n");
      assert.notEqual(result.exitCode, 0);
      assert.ok(performance.now() - started < 30_000);
    });

    test("contexts: create, run cells that share state, list, close", async () => {
      const engine = target.make();
      assert.deepEqual(await engine.listContexts(), []);
      const context = await engine.createContext({ runtime: "python" });
      assert.equal(context.runtime, "python");
      await engine.execute({ runtime: "python", code: "n = 41", contextId: context.id });
      const cell = await engine.execute({
        runtime: "python",
        code: "n + 1",
        contextId: context.id,
      });
      assert.equal(cell.value, "42");
      assert.deepEqual(await engine.listContexts(), [context]);
      await engine.closeContext(context.id);
      assert.deepEqual(await engine.listContexts(), []);
    });

    test("files put into a session are read by its programs, and what they write is got back", async () => {
      const engine = target.make({ session: true });
      await engine.putFile("/sandbox/in.txt", "hello");
      const result = await engine.execute({
        runtime: "python",
        code: "t = open('/sandbox/in.txt').read(); open('/sandbox/out.bin', 'wb').write(t.upper().encode() + bytes([0, 255]))",
      });
      assert.equal(result.exitCode, 0, result.stderr);
      assert.deepEqual(
        await engine.getFile("/sandbox/out.bin"),
        Buffer.concat([Buffer.from("HELLO"), Buffer.from([0, 255])]),
      );
    });
  });
}
