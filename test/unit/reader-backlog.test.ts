import assert from "node:assert/strict";
import { test } from "node:test";
import { ReaderBacklog } from "../../src/server/reader-backlog.js";

test("a reader's backlog hands out events in order, then ends once finished", async () => {
  const backlog = new ReaderBacklog<string>(100);
  backlog.push("a", 10);
  backlog.push("b", 10);
  const waiting = (async () => {
    const got: string[] = [];
    for (let e = await backlog.next(); e; e = await backlog.next()) got.push(e);
    return got;
  })();
  backlog.push("c", 10);
  backlog.finish();
  backlog.push("late", 10);
  assert.deepEqual(await waiting, ["a", "b", "c"]);
  assert.equal(backlog.behind, false);
});

test("past its limit a reader is behind: it keeps what was queued and gets nothing more", async () => {
  const backlog = new ReaderBacklog<string>(25);
  backlog.push("a", 10);
  backlog.push("b", 10);
  backlog.push("c", 10); // 30 > 25
  backlog.push("d", 1);
  assert.equal(backlog.behind, true);
  assert.deepEqual(
    [await backlog.next(), await backlog.next(), await backlog.next()],
    ["a", "b", undefined],
  );
});

test("what the reader was handed no longer counts against its limit", async () => {
  const backlog = new ReaderBacklog<string>(15);
  for (const event of ["a", "b", "c", "d"]) {
    backlog.push(event, 10);
    assert.equal(await backlog.next(), event);
  }
  assert.equal(backlog.behind, false);
});
