// Admission's engine options for a request that asks for none are made once
// per configuration: they must be exactly what the policy makes of empty
// options, follow the configuration they were made for, and never stand in
// for a request whose options or installs change them.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { remoteCodePolicy } from "../../src/remote-code/policy.js";
import { admit } from "../../src/server/admission.js";
import { DEFAULT_TENANT } from "../../src/server/auth/authenticator.js";
import { resolveServerConfig, type ServerConfigInput } from "../../src/server/config.js";
import { optionsKey } from "../../src/server/engine-pool.js";
import type { SessionManager } from "../../src/server/sessions.js";
import type { ExecuteBody } from "../../src/wire/schemas.js";

const principal = { tenantId: DEFAULT_TENANT, master: true };
const noSessions = { has: () => false } as unknown as SessionManager;

function admitter(input: ServerConfigInput = {}) {
  const config = resolveServerConfig(input);
  const deps = { config, remoteCode: remoteCodePolicy(config.remoteCode), sessions: noSessions };
  return async (body: ExecuteBody) =>
    (await admit(deps, principal, body, new AbortController().signal)).options;
}

const python = (extra: Partial<ExecuteBody["request"]> = {}) => ({
  runtime: "python" as const,
  code: "print(1)",
  ...extra,
});

describe("admission's options for a request that asks for none", () => {
  test("are what the policy makes of empty options, one object for every such request", async () => {
    const options = admitter({ policy: { defaults: { memoryLimit: "256m", timeoutMs: 5000 } } });
    const first = await options({ request: python() });
    const second = await options({ request: python({ code: "print(2)" }) });
    const computed = await options({ request: python(), options: {} });
    assert.deepEqual(first, computed);
    assert.equal(first.memoryLimit, "256m");
    assert.equal(first.timeoutMs, 5000);
    assert.equal(second, first);
    assert.notEqual(computed, first);
    assert.equal(optionsKey(second), optionsKey(computed));
  });

  test("follow the configuration they were made for", async () => {
    const small = await admitter({ policy: { defaults: { memoryLimit: "256m" } } })({
      request: python(),
    });
    const large = await admitter({ policy: { defaults: { memoryLimit: "1g" } } })({
      request: python(),
    });
    assert.equal(small.memoryLimit, "256m");
    assert.equal(large.memoryLimit, "1g");
    assert.notEqual(optionsKey(small), optionsKey(large));
  });

  test("do not stand in for a request with options or installs", async () => {
    const options = admitter();
    const plain = await options({ request: python() });
    const installs = await options({ request: python({ installPackages: ["requests"] }) });
    assert.equal(plain.network, "none");
    assert.equal(installs.network, "filtered");
    const asked = await options({ request: python(), options: { memoryLimit: "128m" } });
    assert.equal(asked.memoryLimit, "128m");
    assert.notEqual(optionsKey(asked), optionsKey(plain));
  });
});
