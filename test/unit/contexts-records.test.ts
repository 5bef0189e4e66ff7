import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  channelLimits,
  KernelRecordReader,
  parseKernelRecord,
} from "../../src/contexts/records.js";

const b64 = (text: string) => Buffer.from(text).toString("base64");
const line = (record: unknown) => `${JSON.stringify(record)}\n`;
const reader = (maxBytesPerCell = 1 << 20) =>
  new KernelRecordReader({ maxLineBytes: 4096, maxBytesPerCell });

describe("parseKernelRecord", () => {
  test("each record type comes back typed, its data decoded", () => {
    assert.deepEqual(parseKernelRecord('{"type":"ready"}'), { type: "ready" });
    assert.deepEqual(parseKernelRecord(`{"cell":3,"type":"stdout","data":"${b64("hi\n")}"}`), {
      type: "stdout",
      cell: 3,
      data: Buffer.from("hi\n"),
    });
    assert.deepEqual(
      parseKernelRecord(
        `{"cell":3,"type":"output","index":1,"mime":"image/png","size":2,"data":"${b64("ab")}"}`,
      ),
      { type: "output", cell: 3, index: 1, mime: "image/png", size: 2, data: Buffer.from("ab") },
    );
    assert.deepEqual(
      parseKernelRecord(
        '{"cell":3,"type":"done","status":"ok","exitCode":0,"cpuMs":5,"rssKb":900}',
      ),
      { type: "done", cell: 3, status: "ok", exitCode: 0, cpuMs: 5, rssKb: 900 },
    );
  });

  test("a done record with missing or odd fields is an error status with zeros, never a throw", () => {
    assert.deepEqual(
      parseKernelRecord('{"cell":1,"type":"done","status":7,"exitCode":"0","cpuMs":1e999}'),
      { type: "done", cell: 1, status: "error", exitCode: 0, cpuMs: 0, rssKb: 0 },
    );
  });

  test("anything else is a violation that says what was wrong", () => {
    const violations = [
      ["not json", "it wrote something that is not a protocol record"],
      ["[1,2]", "it wrote something that is not a protocol record"],
      ["null", "it wrote something that is not a protocol record"],
      ['{"type":"stdout","data":"not base64!"}', "bad output record"],
      ['{"type":"value","data":42}', "bad value record"],
      ['{"type":"output","index":0,"data":""}', "bad output record"],
      ['{"type":"output","index":1.5,"data":""}', "bad output record"],
      ['{"type":"shell","cmd":"rm -rf /"}', "unknown record"],
    ] as const;
    for (const [input, violation] of violations)
      assert.deepEqual(parseKernelRecord(input), { violation }, input);
  });
});

describe("KernelRecordReader", () => {
  test("records split across chunks at every offset come out whole and in order", () => {
    const text =
      line({ type: "ready" }) +
      line({ cell: 1, type: "stdout", data: b64("one") }) +
      line({ cell: 1, type: "done", status: "ok", exitCode: 0, cpuMs: 1, rssKb: 2 });
    for (let cut = 0; cut <= text.length; cut++) {
      const r = reader();
      const first = r.feed(Buffer.from(text.slice(0, cut)));
      const second = r.feed(Buffer.from(text.slice(cut)));
      assert.equal(first.violation, undefined);
      assert.equal(second.violation, undefined);
      assert.deepEqual(
        [...first.records, ...second.records].map((record) => record.type),
        ["ready", "stdout", "done"],
        `cut at ${cut}`,
      );
    }
  });

  test("a line longer than allowed is a violation, whole or still unterminated", () => {
    const long = `{"type":"stdout","data":"${"A".repeat(5000)}"}`;
    assert.match(reader().feed(Buffer.from(`${long}\n`)).violation ?? "", /longer than allowed/);
    assert.match(reader().feed(Buffer.from(long)).violation ?? "", /longer than allowed/);
  });

  test("records before a violation are kept; nothing after it is read", () => {
    const r = reader();
    const fed = r.feed(
      Buffer.from(`${line({ type: "ready" })}garbage\n${line({ type: "ready" })}`),
    );
    assert.deepEqual(
      fed.records.map((record) => record.type),
      ["ready"],
    );
    assert.match(fed.violation ?? "", /not a protocol record/);
    assert.deepEqual(r.feed(Buffer.from(line({ type: "ready" }))), { records: [] });
  });

  test("a flood of tiny records runs into the cell's budget; a new cell starts a new budget", () => {
    const tiny = line({ cell: 1, type: "stdout", data: "" });
    const budget = tiny.length * 1000;
    const r = reader(budget);
    const batch = Buffer.from(tiny.repeat(500));
    assert.equal(r.feed(batch).records.length, 500);
    assert.equal(r.feed(batch).records.length, 500);
    r.startCell();
    assert.equal(r.feed(batch).records.length, 500);
    assert.equal(r.feed(batch).violation, undefined);
    const over = r.feed(batch);
    assert.match(
      over.violation ?? "",
      new RegExp(`more than ${budget} bytes of protocol for one cell`),
    );
    assert.deepEqual(over.records, []);
  });

  test("a chunk of a hundred thousand records is read in one pass", () => {
    const tiny = line({ cell: 1, type: "stdout", data: "" });
    const fed = reader(1 << 30).feed(Buffer.from(tiny.repeat(100_000)));
    assert.equal(fed.violation, undefined);
    assert.equal(fed.records.length, 100_000);
  });
});

describe("channelLimits", () => {
  const MB = 1024 * 1024;

  test("lines up to 64 KB; a cell's protocol budget is 64 MB, or 8 times a larger output limit", () => {
    assert.deepEqual(channelLimits(1 * MB), { maxLineBytes: 64 * 1024, maxBytesPerCell: 64 * MB });
    assert.deepEqual(channelLimits(8 * MB), { maxLineBytes: 64 * 1024, maxBytesPerCell: 64 * MB });
    assert.deepEqual(channelLimits(10 * MB), { maxLineBytes: 64 * 1024, maxBytesPerCell: 80 * MB });
  });

  test("a reader with them takes a 64 KB line and refuses one byte more", () => {
    const limits = channelLimits(MB);
    const record = (length: number) => {
      const head = '{"cell":1,"type":"stdout","data":"';
      const tail = '"}';
      return head + "A".repeat(length - head.length - tail.length) + tail;
    };
    const fits = new KernelRecordReader(limits).feed(Buffer.from(`${record(64 * 1024)}\n`));
    assert.equal(fits.violation, undefined);
    assert.equal(fits.records.length, 1);
    const over = new KernelRecordReader(limits).feed(Buffer.from(`${record(64 * 1024 + 1)}\n`));
    assert.match(over.violation ?? "", /longer than allowed/);
  });

  test("a cell flooding its channel past the budget is refused", () => {
    const r = new KernelRecordReader(channelLimits(MB));
    const chunk = Buffer.from(
      line({ cell: 1, type: "stdout", data: "A".repeat(4000) }).repeat(256),
    );
    let violation: string | undefined;
    let fed = 0;
    while (!violation && fed <= 64 * MB) {
      violation = r.feed(chunk).violation;
      fed += chunk.length;
    }
    assert.equal(violation, `it sent more than ${64 * MB} bytes of protocol for one cell`);
    assert.ok(fed > 64 * MB);
  });
});
