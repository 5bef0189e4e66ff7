// The server's small parts on their own: execution slots, config, port
// precedence, stored credentials.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { resolvePort } from "../../src/cli/commands/serve.js";
import {
  readCredentials,
  removeCredentials,
  resolveApiKey,
  saveCredential,
} from "../../src/client/credentials.js";
import { resolveServerConfig } from "../../src/server/config.js";
import { HttpError } from "../../src/server/errors.js";
import { applyPolicy } from "../../src/server/policy.js";
import { ExecutionSlots } from "../../src/server/slots.js";

describe("execution slots", () => {
  test("runs up to the limit, queues in order, refuses beyond the queue with 429 and Retry-After", async () => {
    const slots = new ExecutionSlots(1, 1);
    const first = await slots.enter();
    const order: string[] = [];
    const second = slots.enter().then((release) => {
      order.push("second");
      return release;
    });
    assert.equal(slots.queued, 1);
    await assert.rejects(slots.enter(), (error: unknown) => {
      assert.ok(error instanceof HttpError);
      assert.equal(error.status, 429);
      assert.ok(Number(error.headers["Retry-After"]) >= 1);
      return true;
    });
    first();
    (await second)();
    assert.deepEqual(order, ["second"]);
    assert.equal(slots.running, 0);
    assert.equal(await slots.idle(10), true);
  });

  test("a caller that goes away while queued leaves the queue", async () => {
    const slots = new ExecutionSlots(1, 5);
    const held = await slots.enter();
    const abort = new AbortController();
    const waiting = slots.enter(abort.signal);
    abort.abort(new Error("gone"));
    await assert.rejects(waiting, /gone/);
    assert.equal(slots.queued, 0);
    held();
    assert.equal(slots.running, 0);
  });
});

describe("server config and policy", () => {
  test("defaults are the engine's, limits are above them, nothing weakening is allowed", () => {
    const { policy } = resolveServerConfig();
    assert.deepEqual(policy.allow, {
      hostNetwork: false,
      internalAddresses: false,
      unconfinedSeccomp: false,
      writableRootFs: false,
      customImage: false,
    });
    assert.deepEqual(applyPolicy(policy), {
      network: "none",
      readonlyRootFs: true,
      secrets: {},
      security: { seccomp: "strict" },
      memoryLimit: "512m",
      sandboxSize: "512m",
      tmpSize: "256m",
      cpuLimit: 1,
      timeoutMs: 30_000,
      pidsLimit: 64,
      maxOutputSize: 1024 * 1024,
    });
  });

  test("a config whose default is above its limit, or with an unknown key, is refused by name", () => {
    assert.throws(
      () => resolveServerConfig({ policy: { defaults: { memoryLimit: "4g" } } }),
      /policy\.defaults\.memoryLimit \(4g\) is above policy\.limits\.memoryLimit \(2g\)/,
    );
    assert.throws(() => resolveServerConfig({ maxConcurent: 3 } as never), /Unrecognized key/);
    assert.throws(
      () => resolveServerConfig({ policy: { limits: { memoryLimit: "lots" } } }),
      /policy\.limits\.memoryLimit: not a size/,
    );
  });

  test("an allowed weakening is granted exactly as asked", () => {
    const { policy } = resolveServerConfig({ policy: { allow: { hostNetwork: true } } });
    assert.equal(applyPolicy(policy, { network: "host" }).network, "host");
  });
});

describe("isol8 serve's port", () => {
  test("--port > ISOL8_PORT > PORT > 3000", () => {
    assert.equal(resolvePort("4000", { ISOL8_PORT: "5000", PORT: "6000" }), 4000);
    assert.equal(resolvePort(undefined, { ISOL8_PORT: "5000", PORT: "6000" }), 5000);
    assert.equal(resolvePort(undefined, { PORT: "6000" }), 6000);
    assert.equal(resolvePort(undefined, {}), 3000);
    assert.throws(() => resolvePort("http", {}), /--port: "http" is not a port number/);
    assert.throws(() => resolvePort(undefined, { PORT: "70000" }), /PORT: "70000"/);
  });
});

describe("stored credentials", () => {
  test("saved 0600 by host; a given key beats ISOL8_API_KEY beats an unexpired stored token", () => {
    const dir = mkdtempSync(join(tmpdir(), "isol8-cred-"));
    const home = process.env.HOME;
    const envKey = process.env.ISOL8_API_KEY;
    process.env.HOME = dir;
    delete process.env.ISOL8_API_KEY;
    try {
      saveCredential("http://h:1/", { token: "stored", expiresAt: null });
      saveCredential("http://old:1", {
        token: "old",
        expiresAt: new Date(Date.now() - 1000).toISOString(),
      });
      const file = join(dir, ".isol8", "credentials.json");
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(Object.keys(JSON.parse(readFileSync(file, "utf8"))), [
        "http://h:1",
        "http://old:1",
      ]);
      assert.equal(resolveApiKey("http://h:1", undefined), "stored");
      assert.equal(
        resolveApiKey("http://old:1", undefined),
        undefined,
        "expired tokens are not used",
      );
      process.env.ISOL8_API_KEY = "from-env";
      assert.equal(resolveApiKey("http://h:1", undefined), "from-env");
      assert.equal(resolveApiKey("http://h:1", "given"), "given");
      assert.equal(removeCredentials(undefined), 2);
      assert.deepEqual(readCredentials(), {});
    } finally {
      process.env.HOME = home;
      if (envKey === undefined) delete process.env.ISOL8_API_KEY;
      else process.env.ISOL8_API_KEY = envKey;
    }
  });
});
