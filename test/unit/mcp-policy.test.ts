import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../src/config/file.js";
import { InvalidOptionError } from "../../src/engine/options.js";
import { describeInstalls, describeLimits, mcpPolicy } from "../../src/mcp/policy.js";

test("no config: network none, no installs, the engine's defaults as the ceiling", () => {
  const policy = mcpPolicy({});
  assert.equal(policy.network, "none");
  assert.equal(policy.installs, false);
  assert.equal(policy.maxTimeoutMs, 30_000);
  assert.deepEqual(policy.engine.networkFilter, undefined);
  const limits = describeLimits(policy);
  assert.match(limits, /Network: none - the sandbox has no network access at all/);
  assert.match(limits, /Timeout: 30000 ms per call/);
  assert.match(limits, /Memory: 512m .*1 CPU, at most 64 processes\/threads/);
  assert.match(limits, /cut at 1048576 bytes/);
  assert.match(describeInstalls(policy), /^Installing packages is disabled/);
});

test("filtered: the file's rules become the engine's filter and the description lists them", () => {
  const policy = mcpPolicy({
    defaults: { network: "filtered", timeoutMs: 90_000, memoryLimit: "1g", cpuLimit: 2 },
    network: {
      whitelist: ["api\\.example\\.com"],
      blacklist: ["bad\\.example\\.com"],
      ports: [8443],
    },
    registries: { pip: "https://pypi.example.com/simple/" },
    security: { seccomp: "strict" },
  });
  assert.equal(policy.installs, true);
  assert.equal(policy.maxTimeoutMs, 90_000);
  assert.deepEqual(policy.engine.networkFilter, {
    whitelist: ["api\\.example\\.com"],
    blacklist: ["bad\\.example\\.com"],
    ports: [8443],
  });
  assert.deepEqual(policy.engine.registries, { pip: "https://pypi.example.com/simple/" });
  assert.deepEqual(policy.engine.security, { seccomp: "strict" });
  const limits = describeLimits(policy);
  assert.match(
    limits,
    /only to hosts matching `api\\\.example\\\.com` \(regular expressions\) on ports 8443/,
  );
  assert.match(limits, /Memory: 1g .*2 CPU/);
  assert.match(
    describeInstalls(policy),
    /from the runtime's registry \(reachable for the install only\)/,
  );
});

test("filtered with no allowed host, and host: described as such", () => {
  assert.match(
    describeLimits(mcpPolicy({ defaults: { network: "filtered" } })),
    /filtered, and no host is allowed/,
  );
  const host = mcpPolicy({ defaults: { network: "host" } });
  assert.equal(host.installs, true);
  assert.match(describeLimits(host), /Network: unrestricted/);
});

test("a bad value or an unreadable CA file fails at start-up, naming the key", () => {
  assert.throws(
    () =>
      mcpPolicy({
        defaults: { network: "host" },
        network: { caCertificates: ["/nonexistent.pem"] },
      }),
    (error: unknown) =>
      error instanceof ConfigError &&
      /^network\.caCertificates: cannot read \/nonexistent\.pem/.test(error.message),
  );
  assert.throws(() => mcpPolicy({ defaults: { memoryLimit: "lots" } }), InvalidOptionError);
});
