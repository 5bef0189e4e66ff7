// Which ready container the pool hands to which tenant (the binding logic
// alone; test/server/tenant-pool.test.ts checks it on a real server).
import assert from "node:assert/strict";
import { test } from "node:test";
import { createDebugLog } from "../../src/engine/debug-log.js";
import { ContainerPool } from "../../src/engine/pool.js";
import type { SandboxContainer } from "../../src/engine/sandbox-container.js";

/** Stand-ins for started containers: numbered, always clean after a wipe. */
function fakePool(clean: number) {
  let started = 0;
  const removed: string[] = [];
  const start = async () => {
    const id = `c${++started}`;
    return {
      id,
      usable: true,
      wipe: async () => true,
      remove: async () => {
        removed.push(id);
      },
    } as unknown as SandboxContainer;
  };
  const pool = new ContainerPool(start, "fast", { clean, dirty: clean }, createDebugLog(false));
  /** Runs one "execution" for `tenant` and returns the container's id once it is back. */
  const run = async (tenant?: string) => {
    const container = await pool.acquire(tenant);
    pool.release(container);
    await new Promise((r) => setImmediate(r));
    return container.id;
  };
  return { pool, run, removed, started: () => started };
}

test("an unused container serves the first tenant, then that tenant only", async () => {
  const { pool, run, removed } = fakePool(1);
  await new Promise((r) => setImmediate(r)); // the first container is ready
  assert.equal(await run("a"), "c1");
  assert.equal(await run("a"), "c1");
  const forB = await run("b");
  assert.notEqual(forB, "c1");
  assert.ok(removed.includes("c1"), "a's container made room rather than waiting for a forever");
  assert.notEqual(await run("a"), forB);
  await pool.drain();
});

test("warm containers stay at `clean` in all, however many tenants come", async () => {
  const { pool, run, removed, started } = fakePool(2);
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 10; i++) {
    await run(`tenant-${i}`);
    const alive = started() - removed.length;
    assert.ok(alive <= 2, `${alive} containers kept after tenant ${i}'s run`);
  }
  await pool.drain();
});

test("runs that name no tenant are one party, as a library's are", async () => {
  const { pool, run, started } = fakePool(1);
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 5; i++) assert.equal(await run(), "c1");
  assert.equal(started(), 1);
  await pool.drain();
});
