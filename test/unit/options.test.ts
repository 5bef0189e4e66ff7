import assert from "node:assert/strict";
import { test } from "node:test";
import { containerSpec } from "../../src/backend/docker/container-spec.js";
import { parseSize } from "../../src/config/sizes.js";
import { InvalidOptionError, resolveOptions } from "../../src/engine/options.js";
import { validateRequest } from "../../src/engine/request.js";

test("sizes parse like Docker's", () => {
  assert.equal(parseSize("512m"), 512 * 1024 * 1024);
  assert.equal(parseSize("1g"), 1024 ** 3);
  assert.equal(parseSize("64K"), 65536);
  assert.equal(parseSize("1048576"), 1048576);
  for (const bad of ["12xb", "", "-1m", "m", "0", "1.5.5m"])
    assert.equal(parseSize(bad), undefined, bad);
});

test("defaults are the seed's", () => {
  const o = resolveOptions();
  assert.equal(o.memoryBytes, 512 * 1024 * 1024);
  assert.equal(o.cpuLimit, 1);
  assert.equal(o.timeoutMs, 30_000);
  assert.equal(o.pidsLimit, 64);
  assert.equal(o.sandboxBytes, 512 * 1024 * 1024);
  assert.equal(o.tmpBytes, 256 * 1024 * 1024);
  assert.equal(o.readonlyRootFs, true);
  assert.equal(o.maxOutputBytes, 1024 * 1024);
  assert.equal(o.network, "none");
  assert.equal(o.mode, "ephemeral");
});

test("bad options name the option and the problem", () => {
  const cases: [object, RegExp][] = [
    [{ memoryLimit: "12xb" }, /^memoryLimit: "12xb" is not a size/],
    [{ timeoutMs: -5 }, /^timeoutMs: -5 is not a positive whole number/],
    [{ cpuLimit: 0 }, /^cpuLimit: 0 is not a positive number/],
    [{ network: "wide" }, /^network: "wide" is not one of/],
    [{ secrets: { "1BAD": "x" } }, /^secrets: "1BAD" is not a valid environment variable name/],
  ];
  for (const [options, message] of cases)
    assert.throws(
      () => resolveOptions(options),
      (e: Error) => e instanceof InvalidOptionError && message.test(e.message),
    );
});

test("bad requests name the field", () => {
  const cases: [object, RegExp][] = [
    [{ runtime: "cobol", code: "x" }, /^runtime: "cobol"/],
    [{ runtime: "python" }, /^code, cmd: give exactly one/],
    [{ runtime: "python", code: "   " }, /^code, cmd: give exactly one/],
    [{ runtime: "python", code: "1", cmd: "ls" }, /^code, cmd: give exactly one/],
    [
      { runtime: "node", code: "1", fileExtension: ".py" },
      /^fileExtension: ".py" is not one of .mjs, .cjs, .js for node/,
    ],
    [{ runtime: "python", code: "1", env: { "A-B": "1" } }, /^env: "A-B" is not a valid/],
    [
      { runtime: "python", code: "1", timeoutMs: 1.5 },
      /^timeoutMs: 1.5 is not a positive whole number/,
    ],
    [
      { runtime: "python", code: "#".repeat(17 * 1024 * 1024) },
      /^code: \d+ bytes is larger than the limit/,
    ],
  ];
  for (const [request, message] of cases) {
    assert.throws(
      () => validateRequest(request as never),
      (e: Error) => message.test(e.message),
      String(message),
    );
  }
});

test("the container spec applies every security default", () => {
  const spec = containerSpec(resolveOptions(), "isol8:python");
  const host = spec.HostConfig ?? {};
  assert.equal(
    spec.User,
    "0:0",
    "the supervisor starts as root and drops every program to uid 100",
  );
  assert.deepEqual(spec.Env, []);
  assert.equal(spec.StdinOnce, true);
  assert.equal(spec.NetworkDisabled, true);
  assert.equal(host.NetworkMode, "none");
  assert.equal(host.ReadonlyRootfs, true);
  assert.equal(host.Memory, host.MemorySwap);
  assert.equal(host.PidsLimit, 64);
  assert.equal(host.NanoCpus, 1e9);
  assert.deepEqual(host.CapDrop, ["ALL"]);
  assert.deepEqual(host.CapAdd, ["SETUID", "SETGID", "SETPCAP"]);
  assert.equal(host.SecurityOpt?.[0], "no-new-privileges:true");
  const profile = JSON.parse((host.SecurityOpt?.[1] ?? "").replace(/^seccomp=/, ""));
  assert.equal(profile.defaultAction, "SCMP_ACT_ERRNO", "the strict profile is an allow-list");
  assert.equal(host.LogConfig?.Type, "none");
  assert.equal(host.AutoRemove, true);
  assert.match(
    host.Tmpfs?.["/sandbox"] ?? "",
    /^rw,exec,nosuid,nodev,size=536870912,uid=100,gid=100,mode=0700$/,
  );
  assert.match(host.Tmpfs?.["/tmp"] ?? "", /^rw,noexec,nosuid,nodev,size=268435456,mode=1777$/);
  assert.equal(spec.Labels?.["isol8.managed"], "true");
  assert.equal(containerSpec(resolveOptions({ persist: true }), "i").HostConfig?.AutoRemove, false);
  assert.equal(
    containerSpec(resolveOptions({ network: "host" }), "i").HostConfig?.NetworkMode,
    "host",
  );
});
