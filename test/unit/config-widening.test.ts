import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { z } from "zod";
import {
  configSchema,
  type Isol8Config,
  layerConfigs,
  loadConfig,
  UntrustedConfigError,
} from "../../src/config/file.js";
import { recordTrust } from "../../src/config/trust.js";
import { RULED_KEYS, wideningKeys } from "../../src/config/widening.js";

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
}

function keyPaths(schema: JsonSchema, prefix = ""): string[] {
  return Object.entries(schema.properties ?? {}).flatMap(([key, child]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return child.type === "object" && child.properties ? keyPaths(child, path) : [path];
  });
}

const widened = (trusted: Isol8Config, layer: Isol8Config) =>
  wideningKeys(trusted, layer).map((w) => w.key);

test("every key of the schema has a widening rule, and no rule is for a key that does not exist", () => {
  const keys = keyPaths(z.toJSONSchema(configSchema, { io: "input" }) as JsonSchema).sort();
  assert.deepEqual([...RULED_KEYS].sort(), keys);
});

test("against the built-in defaults: what widens and what narrows", () => {
  const widening: Isol8Config = {
    defaults: {
      network: "filtered",
      memoryLimit: "1g",
      cpuLimit: 2,
      timeoutMs: 60_000,
      pidsLimit: 65,
      sandboxSize: "1g",
      tmpSize: "512m",
      readonlyRootFs: false,
      maxOutputSize: 2 * 1024 * 1024,
      ociRuntime: "runsc",
    },
    network: { whitelist: ["a\\.example"], ports: [22], caCertificates: ["/ca.pem"] },
    security: { seccomp: "custom", customProfilePath: "/p.json", compatAbis: true },
    dependencies: { python: ["requests"], bash: ["jq"] },
    registries: { pip: "https://pypi.example/simple/" },
    remoteCode: {
      enabled: true,
      allowedSchemes: ["https", "http"],
      maxCodeSize: 2 * 1024 * 1024,
      fetchTimeoutMs: 20_000,
      caCertificates: ["/ca.pem"],
    },
  };
  const expected = Object.entries(widening).flatMap(([section, values]) =>
    Object.keys(values as object).map((key) => `${section}.${key}`),
  );
  assert.deepEqual(widened({}, widening), expected);
  const narrowing: Isol8Config = {
    $schema: "./schema.json",
    defaults: {
      network: "none",
      memoryLimit: "256m",
      cpuLimit: 0.5,
      timeoutMs: 1000,
      pidsLimit: 10,
      sandboxSize: "64m",
      tmpSize: "64m",
      readonlyRootFs: true,
      maxOutputSize: 1000,
    },
    network: { whitelist: [], blacklist: ["evil\\.example"], ports: [443] },
    security: { seccomp: "strict", compatAbis: false },
    remoteCode: {
      enabled: false,
      allowedSchemes: ["https"],
      allowedHosts: ["raw\\.example"],
      blockedHosts: ["x"],
      maxCodeSize: 10,
      fetchTimeoutMs: 10,
      requireHash: true,
    },
  };
  assert.deepEqual(widened({}, narrowing), []);
});

test("against the user's file: its own values are allowed, lists compare entry by entry", () => {
  const user: Isol8Config = {
    defaults: { network: "host", memoryLimit: "2g", ociRuntime: "runsc" },
    network: { whitelist: ["a", "b"], blacklist: ["x", "y"] },
    security: { seccomp: "unconfined" },
    remoteCode: { enabled: true, requireHash: true, allowedHosts: ["h"] },
  };
  assert.deepEqual(
    widened(user, {
      defaults: { network: "filtered", memoryLimit: "1g", ociRuntime: "runsc" },
      network: { whitelist: ["b"], blacklist: ["x", "y", "z"] },
      security: { seccomp: "custom", customProfilePath: "/any.json" },
      remoteCode: { enabled: true, allowedHosts: ["h"] },
    }),
    [],
  );
  assert.deepEqual(
    widened(user, {
      defaults: { ociRuntime: "runc" },
      network: { whitelist: ["a", "c"], blacklist: ["x"] },
      remoteCode: { requireHash: false, allowedHosts: ["h", "i"] },
    }),
    [
      "defaults.ociRuntime",
      "network.whitelist",
      "network.blacklist",
      "remoteCode.requireHash",
      "remoteCode.allowedHosts",
    ],
  );
});

test("layers merge key by key within a section; a list replaces the list below", () => {
  assert.deepEqual(
    layerConfigs(
      { defaults: { cpuLimit: 0.5, pidsLimit: 20 }, network: { whitelist: ["a", "b"] } },
      {
        defaults: { cpuLimit: 0.25 },
        network: { whitelist: ["a"] },
        security: { seccomp: "strict" },
      },
    ),
    {
      defaults: { cpuLimit: 0.25, pidsLimit: 20 },
      network: { whitelist: ["a"] },
      security: { seccomp: "strict" },
    },
  );
});

test("loadConfig: refused until the content is trusted, and again once it changes", () => {
  const home = mkdtempSync(join(tmpdir(), "isol8-home-"));
  const cwd = mkdtempSync(join(tmpdir(), "isol8-project-"));
  const file = join(cwd, "isol8.config.json");
  const text = JSON.stringify({ defaults: { network: "host" } });
  writeFileSync(file, text);
  assert.throws(() => loadConfig({ cwd, home }), UntrustedConfigError);
  recordTrust(file, text, home);
  const loaded = loadConfig({ cwd, home });
  assert.equal(loaded.config.defaults?.network, "host");
  assert.deepEqual(loaded.sources, [{ path: file, origin: "project", trustedByHash: true }]);
  writeFileSync(file, `${text}\n`);
  assert.throws(() => loadConfig({ cwd, home }), /changed since you trusted it/);
});
