// The server's policy clamps: what a client's options become, and which
// weakenings are refused (403) or malformed (400), each by the field's name.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { resolveServerConfig } from "../../src/server/config.js";
import { HttpError } from "../../src/server/errors.js";
import { applyPolicy, assertSupportedRequest } from "../../src/server/policy.js";
import { checkSeccompProfiles, chooseSeccomp } from "../../src/server/seccomp-profiles.js";
import type { ExecutionOptions, WireExecutionRequest } from "../../src/wire/schemas.js";

const policy = (input: object = {}) => resolveServerConfig({ policy: input }).policy;
const strict = policy();
const open = policy({
  allow: {
    hostNetwork: true,
    internalAddresses: true,
    unconfinedSeccomp: true,
    writableRootFs: true,
    customImage: true,
  },
});

/** Asserts that `run` throws an HttpError with this status and exactly this message. */
function refused(run: () => unknown, status: number, message: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof HttpError, String(error));
    assert.equal(error.message, message);
    assert.equal(error.status, status);
    return true;
  });
}

const dir = mkdtempSync(join(tmpdir(), "isol8-policy-"));
const profileFile = join(dir, "profile.json");
writeFileSync(profileFile, JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW" }));

describe("applyPolicy", () => {
  test("a client that asks for nothing gets the server's defaults, no network and the strict profile", () => {
    assert.deepEqual(applyPolicy(strict), {
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

  test("values within the limits are kept as asked, up to the limit itself", () => {
    const options: ExecutionOptions = {
      memoryLimit: "2g",
      sandboxSize: "1g",
      tmpSize: "1g",
      cpuLimit: 2,
      timeoutMs: 120_000,
      pidsLimit: 256,
      maxOutputSize: 10 * 1024 * 1024,
      secrets: { TOKEN: "x" },
      readonlyRootFs: true,
    };
    const result = applyPolicy(strict, options);
    for (const [key, value] of Object.entries(options))
      assert.deepEqual(result[key as keyof typeof result], value, key);
  });

  test("a value above its limit is a 403 naming the option and the limit", () => {
    refused(
      () => applyPolicy(strict, { memoryLimit: "3g" }),
      403,
      "options.memoryLimit: 3g is above this server's limit of 2g",
    );
    refused(
      () => applyPolicy(strict, { tmpSize: "1025m" }),
      403,
      "options.tmpSize: 1025m is above this server's limit of 1g",
    );
    refused(
      () => applyPolicy(strict, { pidsLimit: 257 }),
      403,
      "options.pidsLimit: 257 is above this server's limit of 256",
    );
    refused(
      () => applyPolicy(strict, { cpuLimit: 2.5 }),
      403,
      "options.cpuLimit: 2.5 is above this server's limit of 2",
    );
  });

  test("a size that is not one is a 400", () => {
    refused(
      () => applyPolicy(strict, { sandboxSize: "lots" }),
      400,
      'options.sandboxSize: "lots" is not a size such as 512m or 2g',
    );
  });

  test("each weakening is refused unless the policy allows it, and kept when it does", () => {
    const cases: [ExecutionOptions, string, Partial<Record<string, unknown>>][] = [
      [
        { network: "host" },
        "options.network: host networking is not allowed by this server's policy",
        { network: "host" },
      ],
      [
        { security: { seccomp: "unconfined" } },
        "options.security.seccomp: unconfined is not allowed by this server's policy",
        { security: { seccomp: "unconfined" } },
      ],
      [
        { readonlyRootFs: false },
        "options.readonlyRootFs: a writable root filesystem is not allowed by this server's policy",
        { readonlyRootFs: false },
      ],
      [
        { image: "mine:latest" },
        "options.image: custom images are not allowed by this server's policy",
        { image: "mine:latest" },
      ],
    ];
    for (const [options, message, kept] of cases) {
      refused(() => applyPolicy(strict, options), 403, message);
      const result = applyPolicy(open, options) as Record<string, unknown>;
      for (const [key, value] of Object.entries(kept)) assert.deepEqual(result[key], value, key);
    }
    assert.equal("image" in applyPolicy(open), false);
  });

  test("a filter and the network log need the filtered network", () => {
    const message = 'options.networkFilter, options.logNetwork: need options.network "filtered"';
    refused(() => applyPolicy(open, { networkFilter: { whitelist: ["a"] } }), 400, message);
    refused(() => applyPolicy(open, { network: "host", logNetwork: true }), 400, message);
    const filtered = applyPolicy(strict, {
      network: "filtered",
      networkFilter: { whitelist: ["example\\.com"] },
      logNetwork: true,
    });
    assert.deepEqual(filtered.networkFilter, { whitelist: ["example\\.com"] });
    assert.equal(filtered.logNetwork, true);
    const quiet = applyPolicy(strict, { network: "filtered", logNetwork: false });
    assert.equal("logNetwork" in quiet, false);
    assert.equal("networkFilter" in quiet, false);
  });

  test("an allow rule naming an internal address is refused unless the policy allows them", () => {
    for (const rule of ["127\\.0\\.0\\.1", "10.1.2.3:8080", "169\\.254\\.169\\.254"]) {
      const options: ExecutionOptions = {
        network: "filtered",
        networkFilter: { whitelist: [rule] },
      };
      assert.throws(
        () => applyPolicy(strict, options),
        (error: unknown) =>
          error instanceof HttpError &&
          error.status === 403 &&
          error.message ===
            `options.networkFilter.whitelist: "${rule}" names the internal address ${rule.split(":")[0]?.replace(/\\/g, "")}, which this server's policy does not allow`,
      );
      assert.deepEqual(applyPolicy(open, options).networkFilter, { whitelist: [rule] });
    }
    // A public address and a name pass; a bad rule is a 400 naming it.
    const pub: ExecutionOptions = {
      network: "filtered",
      networkFilter: { whitelist: ["1.1.1.1", "10\\..*"] },
    };
    assert.deepEqual(applyPolicy(strict, pub).networkFilter, pub.networkFilter);
    refused(
      () => applyPolicy(strict, { network: "filtered", networkFilter: { whitelist: [""] } }),
      400,
      "options.networkFilter.whitelist[0]: a rule must be a non-empty pattern",
    );
  });

  test("without a network asked for, an install is filtered to its runtime's registry", () => {
    const install = (runtime: WireExecutionRequest["runtime"], installPackages?: string[]) =>
      applyPolicy(strict, {}, { runtime, installPackages });
    assert.deepEqual(install("python", ["requests"]).networkFilter, {
      whitelist: ["pypi\\.org", "files\\.pythonhosted\\.org"],
    });
    assert.equal(install("python", ["requests"]).network, "filtered");
    assert.equal(install("python", []).network, "none");
    assert.equal(install("python").network, "none");
    assert.equal(install("bash", ["curl"]).network, "none");
    // A network the request names is never changed.
    const asked = applyPolicy(
      strict,
      { network: "none" },
      { runtime: "node", installPackages: ["x"] },
    );
    assert.deepEqual(asked, { ...applyPolicy(strict), network: "none" });
  });
});

describe("assertSupportedRequest", () => {
  const request = (extra: Partial<WireExecutionRequest>) =>
    ({ runtime: "python", code: "1", ...extra }) as WireExecutionRequest;

  test("remote code only where it is enabled", () => {
    const remote = request({ codeUrl: "https://example.com/a.py" });
    refused(
      () => assertSupportedRequest(remote, strict),
      403,
      "request.codeUrl: remote code is not enabled on this server; send the code itself",
    );
    assertSupportedRequest(remote, strict, true);
    assertSupportedRequest(request({}), strict);
  });

  test("codeHash and allowInsecureCodeUrl need codeUrl", () => {
    const message = "request.codeHash, request.allowInsecureCodeUrl: need request.codeUrl";
    refused(
      () => assertSupportedRequest(request({ codeHash: "a".repeat(64) }), strict),
      400,
      message,
    );
    refused(
      () => assertSupportedRequest(request({ allowInsecureCodeUrl: false }), strict),
      400,
      message,
    );
    assertSupportedRequest(
      request({ codeUrl: "http://example.com/a.py", allowInsecureCodeUrl: true }),
      strict,
      true,
    );
  });

  test("a request's timeout is held to the limit, which it may reach", () => {
    assertSupportedRequest(request({ timeoutMs: 120_000 }), strict);
    refused(
      () => assertSupportedRequest(request({ timeoutMs: 120_001 }), strict),
      403,
      "request.timeoutMs: 120001 is above this server's limit of 120000",
    );
  });
});

describe("chooseSeccomp", () => {
  const profiles = { mine: profileFile, other: "/elsewhere.json" };

  test("strict by default; the modes a client names are kept", () => {
    assert.deepEqual(chooseSeccomp(undefined, {}), { seccomp: "strict" });
    assert.deepEqual(chooseSeccomp({}, {}), { seccomp: "strict" });
    assert.deepEqual(chooseSeccomp({ seccomp: "unconfined" }, {}), { seccomp: "unconfined" });
  });

  test("a registered profile is picked by name and gives its path", () => {
    assert.deepEqual(chooseSeccomp({ seccomp: "custom", customProfile: "mine" }, profiles), {
      seccomp: "custom",
      customProfilePath: profileFile,
    });
  });

  test("a client never names a file, nor a profile outside custom", () => {
    refused(
      () => chooseSeccomp({ seccomp: "custom", customProfilePath: profileFile }, profiles),
      400,
      "options.security.customProfilePath: a server never reads a file its client names; give the name of a profile it registers as options.security.customProfile",
    );
    refused(
      () => chooseSeccomp({ customProfile: "mine" }, profiles),
      400,
      'options.security.customProfile: needs options.security.seccomp "custom"',
    );
  });

  test("custom needs registered profiles and one of their names", () => {
    refused(
      () => chooseSeccomp({ seccomp: "custom", customProfile: "mine" }, {}),
      403,
      "options.security.seccomp: custom profiles are not allowed by this server's policy (it registers none)",
    );
    refused(
      () => chooseSeccomp({ seccomp: "custom" }, profiles),
      400,
      'options.security.customProfile: required with seccomp "custom"; this server registers "mine", "other"',
    );
    for (const name of ["nope", "toString", "__proto__"])
      refused(
        () => chooseSeccomp({ seccomp: "custom", customProfile: name }, profiles),
        400,
        `options.security.customProfile: "${name}" is not a registered profile; this server registers "mine", "other"`,
      );
  });

  test("registered profiles are read at start; a bad one names the profile", () => {
    checkSeccompProfiles({ mine: profileFile });
    assert.throws(
      () => checkSeccompProfiles({ mine: profileFile, gone: join(dir, "missing.json") }),
      (error: unknown) =>
        error instanceof Error &&
        error.message ===
          `server config: policy.seccompProfiles.gone: security.customProfilePath: cannot read ${join(dir, "missing.json")} (ENOENT)`,
    );
  });
});
