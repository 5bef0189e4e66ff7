import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { collectStream, engine } from "../support/engine.js";

describe("setupScript", () => {
  test("runs before the program in the same sandbox; its output streams as phase setup, not in the result", async () => {
    const isol8 = engine();
    const request = {
      runtime: "python" as const,
      setupScript: "echo preparing; mkdir -p /sandbox/cfg && echo 42 > /sandbox/cfg/answer",
      code: "print(open('/sandbox/cfg/answer').read().strip())",
    };
    const result = await isol8.execute(request);
    assert.equal(result.stdout, "42\n");
    assert.equal(result.setupFailed, undefined);
    const events = await collectStream(isol8, request);
    // Chunk boundaries are the pipe's business: compare what each phase printed, in order.
    const output = events
      .map((e) => e.event)
      .flatMap((e) => (e.type === "stdout" ? [{ data: e.data, phase: e.phase }] : []));
    const phases = output.map((e) => e.phase);
    assert.deepEqual(
      phases.filter((phase, i) => phase !== phases[i - 1]),
      ["setup", "code"],
      "setup output comes first, then the program's",
    );
    const printed = (phase: string) =>
      output
        .filter((e) => e.phase === phase)
        .map((e) => e.data)
        .join("");
    assert.equal(printed("setup"), "preparing\n");
    assert.equal(printed("code"), "42\n");
  });

  test("a failing setup stops the run: the result is the setup's, and says so", async () => {
    const isol8 = engine();
    const result = await isol8.execute({
      runtime: "python",
      setupScript: "echo 'cannot set up' >&2; exit 3",
      code: "open('/sandbox/ran', 'w').write('x'); print('program ran')",
    });
    assert.equal(result.setupFailed, true);
    assert.equal(result.exitCode, 3);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, "cannot set up\n");
    const events = await collectStream(isol8, {
      runtime: "bash",
      setupScript: "exit 4",
      code: "echo never",
    });
    assert.ok(
      events.some(
        (e) => e.event.type === "error" && /setup script failed \(exit 4\)/.test(e.event.data),
      ),
    );
    assert.ok(!events.some((e) => e.event.type === "stdout" && e.event.data.includes("never")));
  });

  test("one timeout covers setup and program", async () => {
    const isol8 = engine();
    // Alone, each fits in 2 s; together they do not.
    const result = await isol8.execute({
      runtime: "bash",
      timeoutMs: 2000,
      setupScript: "sleep 1.2",
      code: "sleep 1.5; echo finished",
    });
    assert.equal(result.timedOut, true);
    assert.equal(result.stdout, "");
  });
});
