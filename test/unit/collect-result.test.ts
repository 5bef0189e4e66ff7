import assert from "node:assert/strict";
import { test } from "node:test";
import { collectResult } from "../../src/engine/collect-result.js";
import type { ExecutionSummary, StreamEvent } from "../../src/types.js";

const SUMMARY: ExecutionSummary = {
  exitCode: 0,
  durationMs: 1,
  truncated: false,
  timedOut: false,
  oomKilled: false,
  executionId: "id",
  runtime: "python",
  timestamp: "2026-01-01T00:00:00.000Z",
};

async function* events(list: StreamEvent[]): AsyncGenerator<StreamEvent> {
  yield* list;
}

const PHASED: StreamEvent[] = [
  { type: "stdout", data: "installing\n", phase: "install" },
  { type: "stdout", data: "setting up\n", phase: "setup" },
  { type: "stderr", data: "setup warning\n", phase: "setup" },
  { type: "stdout", data: "program\n", phase: "code" },
  { type: "error", data: "output truncated at 10 bytes" },
];

test("the program's output only, when every step before it succeeded; notices kept apart", async () => {
  const { result, notices } = await collectResult(
    events([...PHASED, { type: "exit", data: "0", result: SUMMARY }]),
  );
  assert.equal(result.stdout, "program\n");
  assert.equal(result.stderr, "");
  assert.deepEqual(notices, ["output truncated at 10 bytes"]);
});

test("a failed setup's or install's output is the result", async () => {
  const setup = await collectResult(
    events([...PHASED, { type: "exit", data: "1", result: { ...SUMMARY, setupFailed: true } }]),
  );
  assert.deepEqual([setup.result.stdout, setup.result.stderr], ["setting up\n", "setup warning\n"]);
  const install = await collectResult(
    events([...PHASED, { type: "exit", data: "1", result: { ...SUMMARY, installFailed: true } }]),
  );
  assert.equal(install.result.stdout, "installing\n");
});

test("events without a phase are the program's; a stream without exit is an error", async () => {
  const { result } = await collectResult(
    events([
      { type: "stdout", data: "a" },
      { type: "stdout", data: "b" },
      { type: "exit", data: "0", result: SUMMARY },
    ]),
  );
  assert.equal(result.stdout, "ab");
  await assert.rejects(collectResult(events([{ type: "stdout", data: "a" }])), /without an exit/);
});
