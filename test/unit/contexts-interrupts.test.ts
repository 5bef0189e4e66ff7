import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  INTERRUPT_GRACE_MS,
  InterruptGrace,
  type Schedule,
} from "../../src/contexts/interrupts.js";

/** A hand-driven clock: timers run when the test advances time past them. */
function clock() {
  let now = 0;
  const timers: { at: number; work: () => void; cancelled: boolean }[] = [];
  const schedule: Schedule = (work, ms) => {
    const timer = { at: now + ms, work, cancelled: false };
    timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  };
  const advance = (ms: number) => {
    now += ms;
    for (const timer of timers.splice(0)) {
      if (timer.cancelled) continue;
      if (timer.at <= now) timer.work();
      else timers.push(timer);
    }
  };
  const pending = () => timers.filter((timer) => !timer.cancelled).length;
  return { schedule, advance, pending };
}

describe("the grace after an interrupt", () => {
  test("a cell still running when the grace runs out gets its kernel killed, with why", () => {
    const { schedule, advance } = clock();
    const kills: string[] = [];
    const grace = new InterruptGrace(() => false, schedule);
    grace.interrupted("the cell ran past its timeout of 50 ms", (reason) => kills.push(reason));
    advance(INTERRUPT_GRACE_MS - 1);
    assert.deepEqual(kills, []);
    advance(1);
    assert.deepEqual(kills, [
      `did not stop within ${INTERRUPT_GRACE_MS} ms of SIGINT (the cell ran past its timeout of 50 ms)`,
    ]);
    advance(10 * INTERRUPT_GRACE_MS);
    assert.equal(kills.length, 1);
  });

  test("the grace is two seconds", () => {
    assert.equal(new InterruptGrace(() => false).graceMs, 2_000);
  });

  test("a cell that ended within the grace is not killed, even if nothing settled the grace", () => {
    const { schedule, advance } = clock();
    let ended = false;
    const kills: string[] = [];
    const grace = new InterruptGrace(() => ended, schedule);
    grace.interrupted("why", (reason) => kills.push(reason));
    advance(INTERRUPT_GRACE_MS / 2);
    ended = true;
    advance(INTERRUPT_GRACE_MS);
    assert.deepEqual(kills, []);
  });

  test("settling cancels the timer", () => {
    const { schedule, advance, pending } = clock();
    const kills: string[] = [];
    const grace = new InterruptGrace(() => false, schedule);
    grace.interrupted("why", (reason) => kills.push(reason));
    assert.equal(pending(), 1);
    grace.settle();
    assert.equal(pending(), 0);
    advance(INTERRUPT_GRACE_MS * 2);
    assert.deepEqual(kills, []);
  });

  test("a second interrupt starts the grace again, and only the last one's reason kills", () => {
    const { schedule, advance, pending } = clock();
    const kills: string[] = [];
    const grace = new InterruptGrace(() => false, schedule);
    grace.interrupted("first", (reason) => kills.push(reason));
    advance(INTERRUPT_GRACE_MS - 500);
    grace.interrupted("second", (reason) => kills.push(reason));
    assert.equal(pending(), 1);
    advance(500);
    assert.deepEqual(kills, []);
    advance(INTERRUPT_GRACE_MS - 500);
    assert.deepEqual(kills, [`did not stop within ${INTERRUPT_GRACE_MS} ms of SIGINT (second)`]);
  });

  test("the real timer kills after the grace", async () => {
    const kills: string[] = [];
    const grace = new InterruptGrace(() => false, undefined, 20);
    grace.interrupted("why", (reason) => kills.push(reason));
    assert.equal(kills.length, 0);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.deepEqual(kills, ["did not stop within 20 ms of SIGINT (why)"]);
    const settled = new InterruptGrace(() => false, undefined, 20);
    settled.interrupted("why", (reason) => kills.push(reason));
    settled.settle();
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(kills.length, 1);
  });
});
