// A process's kept output (src/sandbox/output-log.ts): the most recent
// `capacity` bytes over both streams, in arrival order, and the count of the
// older bytes it no longer keeps.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type OutputChunk, OutputLog } from "../../src/sandbox/output-log.js";

const out = (text: string): OutputChunk => ({ stream: "stdout", data: Buffer.from(text) });
const err = (text: string): OutputChunk => ({ stream: "stderr", data: Buffer.from(text) });

/**
 * The log's history as [stream, text] runs: what came in, in order, with
 * adjacent pieces of one stream joined (where a piece ended is not kept).
 */
function kept(log: OutputLog): [string, string][] {
  const runs: [string, Buffer][] = [];
  for (const chunk of log.history()) {
    const last = runs.at(-1);
    if (last && last[0] === chunk.stream) last[1] = Buffer.concat([last[1], chunk.data]);
    else runs.push([chunk.stream, chunk.data]);
  }
  return runs.map(([stream, data]) => [stream, data.toString()]);
}

/** The bytes the log keeps, over both streams. */
function keptBytes(log: OutputLog): number {
  return log.history().reduce((sum, chunk) => sum + chunk.data.length, 0);
}

test("under its capacity everything is kept in arrival order, both streams interleaved", () => {
  const log = new OutputLog(100);
  log.append(out("one "));
  log.append(err("oops "));
  log.append(out("two"));
  assert.deepEqual(kept(log), [
    ["stdout", "one "],
    ["stderr", "oops "],
    ["stdout", "two"],
  ]);
  assert.equal(log.text("stdout"), "one two");
  assert.equal(log.text("stderr"), "oops ");
  assert.equal(log.dropped, 0);
});

test("exactly at its capacity nothing is dropped", () => {
  const log = new OutputLog(6);
  log.append(out("abc"));
  log.append(out("def"));
  assert.equal(log.text("stdout"), "abcdef");
  assert.equal(log.dropped, 0);
});

test("across chunks it keeps the last `capacity` bytes: whole old chunks go, the oldest kept one is cut", () => {
  const log = new OutputLog(10);
  log.append(out("0123"));
  log.append(out("4567"));
  log.append(out("89ab"));
  log.append(out("cdef"));
  // 16 bytes printed: "0123" and "45" are gone.
  assert.deepEqual(kept(log), [["stdout", "6789abcdef"]]);
  assert.equal(log.text("stdout"), "6789abcdef");
  assert.equal(log.dropped, 6);
});

test("the two streams share one capacity: the oldest bytes go, whichever stream they were", () => {
  const log = new OutputLog(10);
  log.append(out("aaaaaa"));
  log.append(err("bbbbbb"));
  assert.deepEqual(kept(log), [
    ["stdout", "aaaa"],
    ["stderr", "bbbbbb"],
  ]);
  log.append(err("cc"));
  assert.deepEqual(kept(log), [
    ["stdout", "aa"],
    ["stderr", "bbbbbbcc"],
  ]);
  log.append(out("ddd"));
  assert.deepEqual(kept(log), [
    ["stderr", "bbbbbcc"],
    ["stdout", "ddd"],
  ]);
  assert.equal(log.text("stdout"), "ddd");
  assert.equal(log.text("stderr"), "bbbbbcc");
  assert.equal(log.dropped, 7);
});

test("a single chunk larger than the capacity keeps its own last bytes and drops all before it", () => {
  const log = new OutputLog(4);
  log.append(err("xy"));
  log.append(out("0123456789"));
  assert.deepEqual(kept(log), [["stdout", "6789"]]);
  assert.equal(log.text("stderr"), "");
  assert.equal(log.dropped, 2 + 6);
  // And on an empty log.
  const fresh = new OutputLog(3);
  fresh.append(out("abcdefg"));
  assert.deepEqual(kept(fresh), [["stdout", "efg"]]);
  assert.equal(fresh.dropped, 4);
});

test("a chunk of exactly the capacity replaces everything before it", () => {
  const log = new OutputLog(4);
  log.append(out("ab"));
  log.append(err("wxyz"));
  assert.deepEqual(kept(log), [["stderr", "wxyz"]]);
  assert.equal(log.dropped, 2);
});

test("over many chunks of every size the kept bytes are always the newest `capacity`, and kept + dropped = printed", () => {
  // A capacity under the log's first buffer, and one it grows to, wrapping around as it goes.
  for (const [capacity, largest] of [
    [97, 150],
    [20_000, 9_000],
  ] as const) {
    const log = new OutputLog(capacity);
    let printed = "";
    for (let i = 0; i < 300; i++) {
      const size = (i * 37) % largest; // some pieces empty, some larger than the capacity
      const text = String.fromCharCode(97 + (i % 26)).repeat(size);
      printed += text;
      log.append(i % 3 === 0 ? err(text) : out(text));
      const all = log
        .history()
        .map((chunk) => chunk.data.toString())
        .join("");
      assert.equal(all, printed.slice(-capacity), `capacity ${capacity}, after chunk ${i}`);
      assert.equal(keptBytes(log), Math.min(capacity, printed.length));
      assert.equal(log.dropped + keptBytes(log), printed.length);
    }
  }
});

test("history is a copy: changing the array it returned changes nothing kept", () => {
  const log = new OutputLog(10);
  log.append(out("abc"));
  const history = log.history() as OutputChunk[];
  history.pop();
  assert.deepEqual(kept(log), [["stdout", "abc"]]);
});

test("the kept bytes are the bytes given, binary and split characters too", () => {
  const log = new OutputLog(16);
  const euro = Buffer.from("€");
  log.append({ stream: "stdout", data: euro.subarray(0, 1) });
  log.append({ stream: "stdout", data: euro.subarray(1) });
  log.append({ stream: "stderr", data: Buffer.from([0, 255]) });
  assert.equal(log.text("stdout"), "€");
  assert.deepEqual([...(log.history().at(-1)?.data ?? [])], [0, 255]);
});

test("a chunk history handed out is a copy: later output changes nothing in it", () => {
  const log = new OutputLog(4);
  log.append(out("abcd"));
  const [first] = log.history();
  log.append(out("ef"));
  assert.equal(first?.data.toString(), "abcd");
  assert.equal(log.text("stdout"), "cdef");
});

/** The garbage collector, which the test process was not started with --expose-gc for. */
function collector(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

test("the memory a log holds stays within a few times its capacity however small the pieces, whichever streams they alternate between", () => {
  const gc = collector();
  const held = () => {
    gc();
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.arrayBuffers;
  };
  const capacity = 256 * 1024;
  // Pieces as the channel hands them over: views into the bytes read from it.
  const wire = Buffer.alloc(4 * capacity, "x");
  const before = held();
  const log = new OutputLog(capacity);
  for (let i = 0; i < wire.length; i++)
    log.append({ stream: i % 2 ? "stderr" : "stdout", data: wire.subarray(i, i + 1) });
  const growth = held() - before;
  assert.equal(log.dropped, wire.length - capacity);
  // The bytes themselves and a little for each run of a stream; a kept object per piece is over 100 times.
  assert.ok(growth < 12 * capacity, `${(growth / capacity).toFixed(1)} times the capacity`);

  // Pieces of one stream are one run: the log is hardly more than its bytes.
  const start = held();
  const oneStream = new OutputLog(capacity);
  for (let i = 0; i < wire.length; i++)
    oneStream.append({ stream: "stdout", data: wire.subarray(i, i + 1) });
  const oneStreamGrowth = held() - start;
  assert.equal(oneStream.history().length, 1);
  assert.ok(
    oneStreamGrowth < 2 * capacity,
    `${(oneStreamGrowth / capacity).toFixed(1)} times the capacity`,
  );
  assert.equal(log.dropped, wire.length - capacity); // both logs held until here
});
