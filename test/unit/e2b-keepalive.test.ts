// A stream's wait for its next event or a keepalive leaves no timer behind
// when the event wins (a busy stream would otherwise hold one per event).
import assert from "node:assert/strict";
import { test } from "node:test";
import { nextOrKeepalive } from "../../src/e2b/envd/limits.js";

const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

test("the event wins: its result, and the keepalive's timer is gone", async () => {
  const before = timers();
  for (let i = 0; i < 100; i++)
    assert.deepEqual(await nextOrKeepalive(Promise.resolve(i), 3_600_000), { event: i });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(timers(), before);
});

test("nothing comes: undefined after the interval, and the event is still there to await", async () => {
  let arrive!: (value: string) => void;
  const next = new Promise<string>((resolve) => {
    arrive = resolve;
  });
  // The keepalive's timer does not hold the process open (a server's sockets do): this one does.
  const alive = setTimeout(() => undefined, 5_000);
  assert.equal(await nextOrKeepalive(next, 20), undefined);
  clearTimeout(alive);
  arrive("late");
  assert.deepEqual(await nextOrKeepalive(next, 3_600_000), { event: "late" });
});
