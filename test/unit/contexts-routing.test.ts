import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Cell, type CellEnd, type Output } from "../../src/contexts/cell.js";
import { channelLimits, KernelRecordReader } from "../../src/contexts/records.js";
import { type RecordEffect, RecordRouter } from "../../src/contexts/routing.js";
import { SecretSet } from "../../src/output/secret-masker.js";

const b64 = (text: string) => Buffer.from(text).toString("base64");
const line = (record: unknown) => `${JSON.stringify(record)}\n`;

/** Cell `number` with output limit `limit`, its emitted text and whether it has ended. */
function cell(number: number, limit = 1000) {
  const emitted: Output[] = [];
  const c = new Cell(number, (event) => emitted.push(event), new SecretSet([]), limit);
  let end: CellEnd | undefined;
  void c.ended.promise.then((e) => {
    end = e;
  });
  return {
    cell: c,
    stdout: () =>
      emitted
        .filter((e) => e.type === "stdout")
        .map((e) => e.data)
        .join(""),
    stderr: () =>
      emitted
        .filter((e) => e.type === "stderr")
        .map((e) => e.data)
        .join(""),
    end: async () => {
      await Promise.resolve();
      return end;
    },
  };
}

/**
 * A kernel's channel as a context reads it: bytes through the record reader,
 * each record through the router to the running cell. Returns the effects
 * and the reader's violation, if any.
 */
function channel(router: RecordRouter, maxOutputBytes = 1000) {
  const reader = new KernelRecordReader(channelLimits(maxOutputBytes));
  return (text: string, running: Cell | undefined) => {
    const { records, violation } = reader.feed(Buffer.from(text));
    const effects: RecordEffect[] = records.map((record) => router.route(record, running));
    return { effects: effects.filter((effect) => effect !== undefined), violation };
  };
}

const done = (n: unknown, status = "ok") => ({
  cell: n,
  type: "done",
  status,
  exitCode: 0,
  cpuMs: 3,
  rssKb: 4,
});

describe("records and the running cell", () => {
  test("ready is the kernel's, whatever cell runs", () => {
    const router = new RecordRouter(100);
    assert.deepEqual(router.route({ type: "ready" }, undefined), { kind: "ready" });
    assert.deepEqual(router.route({ type: "ready" }, cell(1).cell), { kind: "ready" });
  });

  test("a done naming the running cell ends it with the status it gives", async () => {
    const router = new RecordRouter(100);
    const running = cell(2);
    const feed = channel(router);
    assert.deepEqual(feed(line(done(2, "interrupted")), running.cell), {
      effects: [],
      violation: undefined,
    });
    assert.deepEqual(await running.end(), {
      kind: "done",
      status: "interrupted",
      exitCode: 0,
      cpuMs: 3,
      rssKb: 4,
    });
  });

  test("a done, value or output for another cell number is not the running cell's", async () => {
    const router = new RecordRouter(100);
    const running = cell(5);
    const feed = channel(router);
    for (const forged of [4, 6, "5", null, undefined]) {
      const result = feed(
        line(done(forged)) +
          line({ cell: forged, type: "value", data: b64("42") }) +
          line({ cell: forged, type: "output", index: 1, mime: "text/html", size: 1, data: "" }) +
          line({ cell: forged, type: "output", index: 2, mime: "bad", size: 1, data: "" }),
        running.cell,
      );
      assert.deepEqual(result, { effects: [], violation: undefined }, String(forged));
    }
    assert.equal(await running.end(), undefined);
    assert.equal(running.cell.finished, false);
    running.cell.finish({ kind: "closed" });
    assert.equal(running.cell.close(), undefined);
    assert.deepEqual(running.cell.outputs(), []);
  });

  test("a value and rich output for the running cell are its own", () => {
    const router = new RecordRouter(100);
    const running = cell(1);
    const feed = channel(router);
    feed(
      line({ cell: 1, type: "value", data: b64("42") }) +
        line({ cell: 1, type: "output", index: 1, mime: "text/html", size: 2, data: b64("<b") }),
      running.cell,
    );
    assert.equal(running.cell.close(), "42");
    assert.deepEqual(running.cell.outputs(), [{ type: "text/html", data: "<b", stdoutOffset: 0 }]);
  });

  test("text output goes to the running cell whatever cell it names (a thread left behind prints into it)", () => {
    const router = new RecordRouter(100);
    const running = cell(3);
    channel(router)(
      line({ cell: 1, type: "stdout", data: b64("old ") }) +
        line({ cell: 3, type: "stdout", data: b64("new") }) +
        line({ cell: 99, type: "stderr", data: b64("err") }),
      running.cell,
    );
    running.cell.close();
    assert.equal(running.stdout(), "old new");
    assert.equal(running.stderr(), "err");
  });

  test("a bad rich output or too many of them for the running cell kills the kernel", () => {
    const router = new RecordRouter(100);
    const running = cell(1);
    assert.deepEqual(
      router.route(
        {
          type: "output",
          cell: 1,
          index: 1,
          mime: "text/x-shellscript",
          size: 1,
          data: Buffer.from("x"),
        },
        running.cell,
      ),
      { kind: "kill", reason: "broke the context protocol (bad output record)" },
    );
    for (let index = 1; index <= 1024; index++)
      router.route(
        { type: "output", cell: 1, index, mime: "text/html", size: 0, data: Buffer.alloc(0) },
        running.cell,
      );
    assert.deepEqual(
      router.route(
        { type: "output", cell: 1, index: 1025, mime: "text/html", size: 0, data: Buffer.alloc(0) },
        running.cell,
      ),
      { kind: "kill", reason: "showed more than 1024 rich outputs in one cell" },
    );
  });

  test("a forged line that is not a record stops the channel: what came before is delivered, nothing after", async () => {
    const router = new RecordRouter(100);
    const running = cell(1);
    const feed = channel(router);
    const cases = [
      ["not json\n", /not a protocol record/],
      [`${line({ cell: 1, type: "exec", cmd: "id" })}`, /unknown record/],
      [`${line({ cell: 1, type: "stdout", data: "%%%" })}`, /bad output record/],
      [
        `${line({ cell: 1, type: "stdout", data: b64("x".repeat(70_000)) })}`,
        /longer than allowed/,
      ],
    ] as const;
    for (const [forged, violation] of cases) {
      const fresh = channel(router);
      assert.match(fresh(forged, running.cell).violation ?? "", violation, forged.slice(0, 40));
    }
    const result = feed(
      `${line({ cell: 1, type: "stdout", data: b64("kept") })}{oops\n${line(done(1))}`,
      running.cell,
    );
    assert.match(result.violation ?? "", /not a protocol record/);
    running.cell.close();
    assert.equal(running.stdout(), "kept");
    assert.equal(await running.end(), undefined);
  });
});

describe("output between cells", () => {
  test("is kept for the next cell, which shows it first", () => {
    const router = new RecordRouter(100);
    router.route({ type: "stdout", cell: 1, data: Buffer.from("late ") }, undefined);
    router.route({ type: "stderr", cell: 1, data: Buffer.from("oops") }, undefined);
    const next = cell(2);
    router.giveStash(next.cell);
    next.cell.output("stdout", Buffer.from("now"));
    next.cell.close();
    assert.equal(next.stdout(), "late now");
    assert.equal(next.stderr(), "oops");
    const after = cell(3);
    router.giveStash(after.cell);
    after.cell.close();
    assert.equal(after.stdout(), "");
  });

  test("stops being kept once the output limit's worth is held", () => {
    const router = new RecordRouter(5);
    for (const text of ["abc", "def", "ghi"])
      router.route({ type: "stdout", cell: 1, data: Buffer.from(text) }, undefined);
    const next = cell(2, 1000);
    router.giveStash(next.cell);
    next.cell.close();
    assert.equal(next.stdout(), "abcdef");
    // Emptied by the hand-over: the limit counts again from nothing.
    for (const text of ["123", "456", "789"])
      router.route({ type: "stdout", cell: 2, data: Buffer.from(text) }, undefined);
    const third = cell(3);
    router.giveStash(third.cell);
    third.cell.close();
    assert.equal(third.stdout(), "123456");
  });

  test("counts against the next cell's output limit", () => {
    const router = new RecordRouter(100);
    router.route({ type: "stdout", cell: 1, data: Buffer.from("0123456789") }, undefined);
    const next = cell(2, 4);
    router.giveStash(next.cell);
    next.cell.close();
    assert.equal(next.stdout(), "0123");
    assert.equal(next.cell.truncated, true);
  });

  test("is forgotten on a reset", () => {
    const router = new RecordRouter(100);
    router.route({ type: "stdout", cell: 1, data: Buffer.from("stale") }, undefined);
    router.clear();
    router.route({ type: "stdout", cell: 1, data: Buffer.from("fresh") }, undefined);
    const next = cell(2);
    router.giveStash(next.cell);
    next.cell.close();
    assert.equal(next.stdout(), "fresh");
  });

  test("a value, output or done between cells changes nothing", () => {
    const router = new RecordRouter(100);
    assert.equal(
      router.route({ type: "value", cell: 1, data: Buffer.from("1") }, undefined),
      undefined,
    );
    assert.equal(
      router.route(
        { type: "output", cell: 1, index: 1, mime: "bad", size: -1, data: Buffer.alloc(0) },
        undefined,
      ),
      undefined,
    );
    assert.equal(
      router.route(
        { type: "done", cell: 1, status: "ok", exitCode: 0, cpuMs: 0, rssKb: 0 },
        undefined,
      ),
      undefined,
    );
    const next = cell(2);
    router.giveStash(next.cell);
    assert.equal(next.cell.close(), undefined);
  });
});
