import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { runSummary } from "../../src/engine/run-summary.js";
import { SecretSet } from "../../src/output/secret-masker.js";
import { exitReport } from "../support/exit-report.js";

const start = {
  executionId: "e1",
  runtime: "python" as const,
  timestamp: "2026-01-01T00:00:00.000Z",
  startedAt: performance.now(),
};

function summaryOf(report: Parameters<typeof exitReport>[0]) {
  return runSummary(
    start,
    { report: exitReport(report), files: {}, network: undefined, containerId: "c1", fresh: true },
    { logNetwork: false },
    new SecretSet([]),
  );
}

describe("a run's summary", () => {
  test("a run killed at its timeout reads 124, not the SIGKILL's 137", () => {
    const result = summaryOf({ exitCode: 137, signal: 9, timedOut: true });
    assert.equal(result.exitCode, 124);
    assert.equal(result.timedOut, true);
  });

  test("a run killed for its memory keeps 137, and a program's own code stands", () => {
    assert.equal(summaryOf({ exitCode: 137, signal: 9, oomKilled: true }).exitCode, 137);
    assert.equal(summaryOf({ exitCode: 3 }).exitCode, 3);
    assert.equal(summaryOf({ exitCode: 124 }).timedOut, false, "a program may exit 124 itself");
  });
});
