import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type CellFacts,
  cellReport,
  kernelEndReason,
  lostBetweenCalls,
} from "../../src/contexts/outcome.js";
import { exitReport as report } from "../support/exit-report.js";

const facts = (fields: Partial<CellFacts>): CellFacts => ({
  end: { kind: "done", status: "ok", exitCode: 0, cpuMs: 12, rssKb: 3000 },
  timeoutMs: 1000,
  maxOutputBytes: 500,
  timedOut: false,
  truncated: false,
  withheldImages: 0,
  ...fields,
});

describe("why a kernel is gone", () => {
  test("the engine's own reason comes first", () => {
    assert.equal(
      kernelEndReason({ report: report({ signal: 9 }) }, "did not stop within 2000 ms of SIGINT"),
      "did not stop within 2000 ms of SIGINT",
    );
  });

  test("else its signal, its exit code, or the failure that ended its run", () => {
    assert.equal(
      kernelEndReason({ report: report({ signal: 11 }) }, undefined),
      "was killed by signal 11",
    );
    assert.equal(
      kernelEndReason({ report: report({ exitCode: 3 }) }, undefined),
      "exited with code 3",
    );
    assert.equal(
      kernelEndReason({ error: new Error("the supervisor went away") }, undefined),
      "was lost (the supervisor went away)",
    );
    assert.equal(kernelEndReason({}, undefined), "was lost (its container stopped)");
  });

  test("between calls it is said by the next call", () => {
    assert.equal(
      lostBetweenCalls("exited with code 1"),
      "the context's interpreter exited with code 1 between calls; it was restarted and its state is lost",
    );
  });
});

describe("a cell's report", () => {
  test("a cell the kernel ended has its exit code, usage and value, and no restart", () => {
    assert.deepEqual(cellReport(facts({})), {
      exitCode: 0,
      cpuMs: 12,
      rssKb: 3000,
      oomKilled: false,
      restarted: false,
      keepValue: true,
      notices: [],
    });
    const failed = cellReport(
      facts({ end: { kind: "done", status: "error", exitCode: 1, cpuMs: 0, rssKb: 0 } }),
    );
    assert.equal(failed.exitCode, 1);
    assert.equal(failed.restarted, false);
  });

  test("a kernel's death mid-cell is a restart, with its exit code, OOM and no value", () => {
    const died = cellReport(
      facts({
        end: {
          kind: "lost",
          reason: "was killed by signal 9",
          report: report({ exitCode: 137, oomKilled: true }),
        },
      }),
    );
    assert.deepEqual(died, {
      exitCode: 137,
      cpuMs: 0,
      rssKb: 0,
      oomKilled: true,
      restarted: true,
      keepValue: false,
      notices: [
        "the context's interpreter was killed by signal 9 (out of memory); it was restarted and its state is lost",
      ],
    });
    const exited = cellReport(
      facts({
        end: { kind: "lost", reason: "exited with code 4", report: report({ exitCode: 4 }) },
      }),
    );
    assert.equal(exited.exitCode, 4);
    assert.equal(exited.oomKilled, false);
    assert.deepEqual(exited.notices, [
      "the context's interpreter exited with code 4; it was restarted and its state is lost",
    ]);
  });

  test("a kernel lost without an exit report (its container went) reports 137", () => {
    const lost = cellReport(facts({ end: { kind: "lost", reason: "was lost (gone)" } }));
    assert.equal(lost.exitCode, 137);
    assert.equal(lost.oomKilled, false);
    assert.equal(lost.restarted, true);
  });

  test("a restart between calls is counted by the next call, and said first", () => {
    const notice = lostBetweenCalls("exited with code 1");
    const next = cellReport(facts({ lostBefore: notice, truncated: true }));
    assert.equal(next.restarted, true);
    assert.equal(next.keepValue, true);
    assert.deepEqual(next.notices, [notice, "output truncated at 500 bytes"]);
    const both = cellReport(
      facts({
        lostBefore: notice,
        end: { kind: "lost", reason: "ended before the cell could run" },
      }),
    );
    assert.equal(both.restarted, true);
    assert.equal(both.notices.length, 2);
    assert.equal(both.notices[0], notice);
  });

  test("a timeout is said only when the kernel reports the cell interrupted", () => {
    const interrupted = {
      kind: "done",
      status: "interrupted",
      exitCode: 130,
      cpuMs: 1,
      rssKb: 1,
    } as const;
    assert.deepEqual(cellReport(facts({ timedOut: true, end: interrupted })).notices, [
      "timed out after 1000 ms; the cell was interrupted (SIGINT)",
    ]);
    assert.deepEqual(cellReport(facts({ timedOut: false, end: interrupted })).notices, []);
    assert.deepEqual(cellReport(facts({ timedOut: true })).notices, []);
  });

  test("a timed-out cell reads 124, whether its kernel stopped it or was killed", () => {
    const interrupted = {
      kind: "done",
      status: "interrupted",
      exitCode: 130,
      cpuMs: 1,
      rssKb: 1,
    } as const;
    assert.equal(cellReport(facts({ timedOut: true, end: interrupted })).exitCode, 124);
    assert.equal(cellReport(facts({ timedOut: false, end: interrupted })).exitCode, 130);
    const killed = cellReport(
      facts({
        timedOut: true,
        end: { kind: "lost", reason: "did not stop", report: report({ exitCode: 137, signal: 9 }) },
      }),
    );
    assert.equal(killed.exitCode, 124);
    assert.equal(killed.restarted, true);
  });

  test("a context closed under its cell reports 137 and says so", () => {
    assert.deepEqual(cellReport(facts({ end: { kind: "closed" } })), {
      exitCode: 137,
      cpuMs: 0,
      rssKb: 0,
      oomKilled: false,
      restarted: false,
      keepValue: false,
      notices: ["the context was closed while the cell ran"],
    });
  });

  test("truncation and withheld images are said after how the cell ended", () => {
    assert.deepEqual(
      cellReport(
        facts({
          end: { kind: "lost", reason: "broke the context protocol (unknown record)" },
          truncated: true,
          withheldImages: 2,
        }),
      ).notices,
      [
        "the context's interpreter broke the context protocol (unknown record); it was restarted and its state is lost",
        "output truncated at 500 bytes",
        "2 image output(s) withheld: they contain the value of a secret",
      ],
    );
  });
});
