// Custom seccomp profiles on a server: a client picks one the operator
// registered by name; it never names a file on the server's disk, and no
// message repeats a file's content.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { resolveServerConfig } from "../../src/server/config.js";
import { run, startServer } from "../support/server.js";

const dir = mkdtempSync(join(tmpdir(), "isol8-seccomp-profiles-"));
const noUname = join(dir, "no-uname.json");
writeFileSync(
  noUname,
  JSON.stringify({
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{ names: ["uname"], action: "SCMP_ACT_ERRNO" }],
  }),
);
// A file on the server's disk a client must never learn anything of.
const SECRET = "root:x:0:0:server-secret-line";
const secretFile = join(dir, "secret.txt");
writeFileSync(secretFile, `${SECRET}\n`);

async function execute(srv: Awaited<ReturnType<typeof startServer>>, security: object) {
  const response = await srv.call("/execute", {
    method: "POST",
    body: run("uname -s || echo refused", { runtime: "bash", options: { security } }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("registered seccomp profiles", () => {
  test("a client picks a registered profile by name and runs under it", async () => {
    const srv = await startServer({ policy: { seccompProfiles: { "no-uname": noUname } } });
    const answer = await execute(srv, { seccomp: "custom", customProfile: "no-uname" });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.match(String(answer.body.stdout), /refused/);
  });

  test("a client naming a file on the server is refused without a byte of it", async () => {
    const srv = await startServer({ policy: { seccompProfiles: { "no-uname": noUname } } });
    for (const security of [
      { seccomp: "custom", customProfilePath: secretFile },
      { seccomp: "custom", customProfilePath: noUname },
    ]) {
      const answer = await execute(srv, security);
      assert.equal(answer.status, 400);
      assert.match(String(answer.body.error), /^options\.security\.customProfilePath: /);
      assert.doesNotMatch(String(answer.body.error), /root:x|server-secret/);
      assert.ok(!String(answer.body.error).includes(dir), "no server path either");
    }
  });

  test("an unknown name, or none, is a 400 listing the registered names; no path is shown", async () => {
    const srv = await startServer({ policy: { seccompProfiles: { "no-uname": noUname } } });
    const unknown = await execute(srv, { seccomp: "custom", customProfile: secretFile });
    assert.equal(unknown.status, 400);
    assert.match(
      String(unknown.body.error),
      /is not a registered profile; this server registers "no-uname"$/,
    );
    const missing = await execute(srv, { seccomp: "custom" });
    assert.equal(missing.status, 400);
    assert.match(String(missing.body.error), /^options\.security\.customProfile: required/);
    const stray = await execute(srv, { seccomp: "strict", customProfile: "no-uname" });
    assert.equal(stray.status, 400);
    for (const answer of [unknown, missing, stray])
      assert.ok(!String(answer.body.error).includes(noUname), String(answer.body.error));
  });

  test("a server that registers none refuses custom profiles (403)", async () => {
    const srv = await startServer();
    const answer = await execute(srv, { seccomp: "custom", customProfile: "no-uname" });
    assert.equal(answer.status, 403);
    assert.match(String(answer.body.error), /custom profiles are not allowed/);
  });

  test("a registered file that is missing or not a profile stops the server at start, quoting none of it", () => {
    assert.throws(
      () => resolveServerConfig({ policy: { seccompProfiles: { leaky: secretFile } } }),
      (error: Error) => {
        assert.match(
          error.message,
          /^server config: policy\.seccompProfiles\.leaky: .* is not valid JSON$/,
        );
        assert.doesNotMatch(error.message, /root:x|server-secret/);
        return true;
      },
    );
    assert.throws(
      () => resolveServerConfig({ policy: { seccompProfiles: { gone: join(dir, "none.json") } } }),
      /policy\.seccompProfiles\.gone: .*cannot read/,
    );
    assert.throws(
      () => resolveServerConfig({ policy: { seccompProfiles: { "bad name!": noUname } } }),
      /policy\.seccompProfiles/,
    );
    assert.throws(
      () => resolveServerConfig({ policy: { allow: { customSeccomp: true } } } as never),
      /policy\.allow\.customSeccomp: replaced by policy\.seccompProfiles/,
    );
  });
});
