// A server's warm pool is shared by every tenant whose options are equal,
// but a container that ran one tenant's code never runs another's (unless
// `engines.shareAcrossTenants` says it may): the wipe is the first line,
// this the second.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startServer } from "../support/server.js";

/** The engine wipes a used container in the background: this gives it its moment. */
const wipeTime = () => new Promise((r) => setTimeout(r, 1000));

const code = { runtime: "bash" as const, code: "echo hi" };

describe("warm containers and tenants", () => {
  test("a container that ran tenant A's code serves A again, never B", async () => {
    const srv = await startServer();
    const a = srv.remote((await srv.createKey("pool-tenant-a")).key);
    const b = srv.remote((await srv.createKey("pool-tenant-b")).key);
    const first = await a.execute(code);
    assert.equal(first.stdout, "hi\n");
    await wipeTime();
    const again = await a.execute(code);
    assert.equal(again.containerId, first.containerId, "A's own container came back to A");
    await wipeTime();
    const other = await b.execute(code);
    assert.equal(other.stdout, "hi\n");
    assert.notEqual(other.containerId, first.containerId, "B got a container A had used");
    await wipeTime();
    const third = await a.execute(code);
    assert.notEqual(third.containerId, other.containerId, "A got a container B had used");
  });

  test("with engines.shareAcrossTenants, a wiped container serves any tenant", async () => {
    const srv = await startServer({
      engines: { poolSize: { clean: 1, dirty: 1 }, shareAcrossTenants: true },
    });
    const a = srv.remote((await srv.createKey("share-tenant-a")).key);
    const b = srv.remote((await srv.createKey("share-tenant-b")).key);
    const first = await a.execute(code);
    await wipeTime();
    const other = await b.execute(code);
    assert.equal(other.containerId, first.containerId);
  });
});
