// Persistent sessions through the server: files, tenancy, listing, deletion,
// idle expiry, and POST /cleanup removing only this server's containers.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { RemoteError } from "../../src/client/remote-error.js";
import { RemoteIsol8 } from "../../src/client/remote-isol8.js";
import { DEFAULT_TENANT } from "../../src/server/auth/authenticator.js";
import { KeyStore } from "../../src/server/auth/key-store.js";
import { containerExists, docker, ownContainers } from "../support/containers.js";
import { eventually } from "../support/eventually.js";
import { MASTER, run, startServer } from "../support/server.js";
import { readSse } from "../support/sse.js";

const srv = await startServer();
const keyA = (await srv.createKey("tenant-a")).key;
const keyB = (await srv.createKey("tenant-b")).key;

const session = (
  key: string,
  sessionId: string,
  options?: ConstructorParameters<typeof RemoteIsol8>[1],
) => new RemoteIsol8({ host: srv.url, apiKey: key, sessionId }, options);

async function hostOf(remote: RemoteIsol8): Promise<string> {
  const result = await remote.execute({
    runtime: "python",
    code: "import socket; print(socket.gethostname())",
  });
  return result.stdout.trim();
}

describe("a session", () => {
  test("keeps files between executions; putFile and getFile carry bytes both ways", async () => {
    const a = session(keyA, "files");
    await a.execute({ runtime: "python", code: "open('/sandbox/state.txt','w').write('kept')" });
    const again = await a.execute({
      runtime: "python",
      code: "print(open('/sandbox/state.txt').read())",
    });
    assert.equal(again.stdout, "kept\n");
    const bytes = Buffer.from([0, 1, 2, 250, 255, 10]);
    await a.putFile("/sandbox/data.bin", bytes);
    assert.deepEqual(await a.getFile("/sandbox/data.bin"), bytes);
    const seen = await a.execute({
      runtime: "python",
      code: "print(list(open('/sandbox/data.bin','rb').read()))",
    });
    assert.equal(seen.stdout, "[0, 1, 2, 250, 255, 10]\n");
    await a.stop();
  });

  test("raw POST /file and GET /file; missing files 404, paths outside /sandbox 400", async () => {
    const put = await srv.call("/file", {
      method: "POST",
      key: keyA,
      body: JSON.stringify({
        sessionId: "raw",
        path: "/sandbox/in.txt",
        content: Buffer.from("hello").toString("base64"),
        createSession: true,
      }),
    });
    assert.deepEqual([put.status, await put.json()], [200, { ok: true }]);
    const get = await srv.call("/file?sessionId=raw&path=/sandbox/in.txt", { key: keyA });
    assert.equal(
      Buffer.from(((await get.json()) as { content: string }).content, "base64").toString(),
      "hello",
    );
    const run1 = await srv.call("/execute", {
      method: "POST",
      key: keyA,
      body: run("print(open('/sandbox/in.txt').read())", { sessionId: "raw" }),
    });
    assert.equal(((await run1.json()) as { stdout: string }).stdout, "hello\n");
    const missing = await srv.call("/file?sessionId=raw&path=/sandbox/nope.txt", { key: keyA });
    assert.equal(missing.status, 404);
    const outside = await srv.call("/file?sessionId=raw&path=/etc/passwd", { key: keyA });
    assert.equal(outside.status, 400);
    assert.match(((await outside.json()) as { error: string }).error, /outside \/sandbox/);
    const badBase64 = await srv.call("/file", {
      method: "POST",
      key: keyA,
      body: JSON.stringify({ sessionId: "raw", path: "/sandbox/x", content: "not base64!" }),
    });
    assert.equal(badBase64.status, 400);
    assert.match(((await badBase64.json()) as { error: string }).error, /^content: /);
    const noSession = await srv.call("/file?sessionId=never-made&path=/sandbox/x", { key: keyA });
    assert.equal(noSession.status, 404);
    await session(keyA, "raw").stop();
  });

  test("POST /file makes a missing session only with createSession; a client's upload after its session is gone is a 404", async () => {
    const upload = (sessionId: string, extra: Record<string, unknown> = {}) =>
      srv.call("/file", {
        method: "POST",
        key: keyA,
        body: JSON.stringify({ sessionId, path: "/sandbox/a.txt", content: "aGk=", ...extra }),
      });
    const refused = await upload("made-by-upload");
    assert.deepEqual(
      [refused.status, await refused.json()],
      [404, { error: 'no session "made-by-upload"' }],
    );
    const made = await upload("made-by-upload", { createSession: true });
    assert.deepEqual([made.status, await made.json()], [200, { ok: true }]);
    const again = await upload("made-by-upload");
    assert.deepEqual([again.status, await again.json()], [200, { ok: true }], "it exists now");
    const ids = (await session(keyA, "made-by-upload").listSessions()).map((s) => s.id);
    assert.ok(ids.includes("made-by-upload"));
    await session(keyA, "made-by-upload").stop();

    // A client's first upload makes its session; once it has used it, a
    // session deleted (or expired) under it is a 404, not a new empty one.
    const client = session(keyA, "client-upload");
    await client.putFile("/sandbox/first.txt", "first");
    assert.deepEqual(await client.getFile("/sandbox/first.txt"), Buffer.from("first"));
    await session(keyA, "other-client").deleteSession("client-upload");
    await assert.rejects(client.putFile("/sandbox/second.txt", "second"), {
      status: 404,
      message: 'no session "client-upload"',
    });
    assert.ok(!(await client.listSessions()).some((s) => s.id === "client-upload"));
    // After its own stop(), the client starts afresh: the next upload makes the session again.
    await client.stop();
    await client.putFile("/sandbox/third.txt", "third");
    assert.deepEqual(await client.getFile("/sandbox/third.txt"), Buffer.from("third"));
    await client.stop();
  });

  test("options sent before the first execution decide the session; later, other options are 400", async () => {
    const first = session(keyA, "opts");
    await first.putFile("/sandbox/early.txt", "early");
    const withOptions = session(keyA, "opts", { memoryLimit: "256m" });
    const result = await withOptions.execute({
      runtime: "python",
      code: "print(open('/sandbox/early.txt').read())",
    });
    assert.equal(
      result.stdout,
      "early\n",
      "files put before the first execution survive its options",
    );
    await assert.rejects(
      session(keyA, "opts", { memoryLimit: "128m" }).execute({ runtime: "python", code: "1" }),
      {
        status: 400,
        message: /runs with the options it was created with/,
      },
    );
    await first.execute({ runtime: "python", code: "1" }); // no options: fine
    await first.stop();
  });

  test("GET /sessions lists the caller's sessions; DELETE removes the container; a second DELETE is 404", async () => {
    const a = session(keyA, "listed");
    const host = await hostOf(a);
    const list = await a.listSessions();
    const entry = list.find((s) => s.id === "listed");
    assert.ok(entry);
    assert.equal(entry.isActive, false);
    assert.ok(Date.parse(entry.lastAccessedAt) <= Date.now());
    const deleted = await srv.call("/session/listed", { method: "DELETE", key: keyA });
    assert.deepEqual([deleted.status, await deleted.json()], [200, { ok: true }]);
    assert.ok(
      await eventually(async () => !(await containerExists(host))),
      "its container is gone",
    );
    const again = await srv.call("/session/listed", { method: "DELETE", key: keyA });
    assert.equal(again.status, 404);
    assert.ok(!(await a.listSessions()).some((s) => s.id === "listed"));
  });
});

describe("a cancelled session run", () => {
  test("a client that goes away kills the program but keeps the session and its files", async () => {
    const a = session(keyA, "cancel");
    await a.putFile("/sandbox/keep.txt", "still here");
    const host = await hostOf(a);
    const abort = new AbortController();
    const response = await srv.call("/execute/stream", {
      method: "POST",
      key: keyA,
      body: run("import time\nprint('started', flush=True)\ntime.sleep(60)", {
        sessionId: "cancel",
      }),
      signal: abort.signal,
    });
    await readSse(response, (e) => e.type === "stdout");
    abort.abort();
    assert.ok(await eventually(() => srv.server.context.slots.running === 0), "the run ended");
    const after = await a.execute({
      runtime: "python",
      code: "import socket; print(socket.gethostname(), open('/sandbox/keep.txt').read())",
    });
    assert.equal(after.stdout, `${host} still here\n`, JSON.stringify(after));
    await a.stop();
  });
});

describe("tenancy", () => {
  test("tenant B cannot see, read, run in or delete tenant A's session: its ids are not there (404)", async () => {
    const a = session(keyA, "private");
    await a.putFile("/sandbox/secret.txt", "A's secret");
    const hostA = await hostOf(a);

    assert.ok(!(await session(keyB, "x").listSessions()).some((s) => s.id === "private"));
    const read = await srv.call("/file?sessionId=private&path=/sandbox/secret.txt", { key: keyB });
    assert.equal(read.status, 404);
    assert.deepEqual(await read.json(), { error: 'no session "private"' });
    const del = await srv.call("/session/private", { method: "DELETE", key: keyB });
    assert.equal(del.status, 404);
    await assert.rejects(
      session(keyB, "private").getFile("/sandbox/secret.txt"),
      (e: unknown) => e instanceof RemoteError && e.status === 404,
    );

    // B's execution with the same id runs in a session of B's own, not in A's container.
    const b = session(keyB, "private");
    const inB = await b.execute({
      runtime: "python",
      code: "import os, socket; print(socket.gethostname(), os.path.exists('/sandbox/secret.txt'))",
    });
    const [hostB, seen] = inB.stdout.trim().split(" ");
    assert.notEqual(hostB, hostA);
    assert.equal(seen, "False");
    await b.putFile("/sandbox/secret.txt", "B's own");
    assert.equal((await a.getFile("/sandbox/secret.txt")).toString(), "A's secret");

    // The master key sees every tenant's sessions, each with its tenant.
    const masterList = (await (await srv.call("/sessions")).json()) as {
      sessions: { id: string; tenantId: string }[];
    };
    const listed = masterList.sessions.filter((s) => s.id === "private").map((s) => s.tenantId);
    assert.deepEqual(listed.sort(), ["tenant-a", "tenant-b"]);
    await a.stop();
    await b.stop();
    assert.ok(await eventually(async () => !(await containerExists(hostA))));
  });
});

describe("tenants of keys and tokens made without one", () => {
  test("each key and login token is a tenant of its own: none lists, reads or deletes another's session", async () => {
    const one = await srv.createKey(undefined);
    const two = await srv.createKey(undefined);
    assert.equal(one.tenantId, one.id, "a key without a tenant is its own tenant");
    const login = await srv.call("/auth/login", { method: "POST", body: "{}" });
    const { token, keyId } = (await login.json()) as { token: string; keyId: string };

    const first = session(one.key, "same-name");
    await first.putFile("/sandbox/mine.txt", "one's data");
    const hostOne = await hostOf(first);
    const tenantsListing = async (key: string) => {
      const list = (await (await srv.call("/sessions", { key })).json()) as {
        sessions: { id: string; tenantId: string }[];
      };
      return list.sessions.filter((s) => s.id === "same-name").map((s) => s.tenantId);
    };
    for (const other of [two.key, token]) {
      assert.deepEqual(await tenantsListing(other), [], "not one's session");
      const read = await srv.call("/file?sessionId=same-name&path=/sandbox/mine.txt", {
        key: other,
      });
      assert.equal(read.status, 404);
      const del = await srv.call("/session/same-name", { method: "DELETE", key: other });
      assert.equal(del.status, 404);
      const inOther = await session(other, "same-name").execute({
        runtime: "python",
        code: "import os, socket; print(socket.gethostname(), os.path.exists('/sandbox/mine.txt'))",
      });
      const [host, exists] = inOther.stdout.trim().split(" ");
      assert.notEqual(host, hostOne);
      assert.equal(exists, "False");
    }
    // The master key sees every tenant's: one session of that name in each.
    assert.deepEqual((await tenantsListing(MASTER)).sort(), [one.id, two.id, keyId].sort());
    const keys = (await (await srv.call("/auth/keys")).json()) as {
      keys: { id: string; tenantId: string }[];
    };
    assert.equal(keys.keys.find((k) => k.id === keyId)?.tenantId, keyId, "the token's own tenant");
    assert.equal((await first.getFile("/sandbox/mine.txt")).toString(), "one's data");
    for (const key of [one.key, two.key, token]) await session(key, "same-name").stop();
  });

  test("the master key deletes another tenant's session by naming it; a key may not", async () => {
    const owner = await srv.createKey(undefined);
    const other = await srv.createKey(undefined);
    await session(owner.key, "to-delete").execute({ runtime: "python", code: "print(1)" });
    const own = await srv.call("/session/to-delete", { method: "DELETE" });
    assert.equal(own.status, 404, "without tenantId: the master key's own tenant");
    const named = `/session/to-delete?tenantId=${encodeURIComponent(owner.tenantId)}`;
    const refused = await srv.call(named, { method: "DELETE", key: other.key });
    assert.equal(refused.status, 403);
    assert.match(
      String(((await refused.json()) as { error: string }).error),
      /^tenantId: only the master key/,
    );
    assert.equal((await srv.call(named, { method: "DELETE" })).status, 200);
    assert.deepEqual(await session(owner.key, "x").listSessions(), []);
  });
});

describe("keys stored in the shared default tenant", () => {
  test("keep working, are named at start, and move to a tenant of their own with PATCH", async () => {
    const dir = mkdtempSync(join(tmpdir(), "isol8-legacy-keys-"));
    const dbPath = join(dir, "server.db");
    // A key as an earlier version made it without a tenant: in the master key's tenant.
    const store = await KeyStore.open(dbPath);
    const legacy = store.create({ name: "old ci", tenantId: DEFAULT_TENANT });
    const revoked = store.create({ name: "gone", tenantId: DEFAULT_TENANT });
    store.revoke(revoked.info.id);
    store.close();

    const lines: string[] = [];
    const old = await startServer({ dbPath }, (line) => lines.push(line));
    const report = lines.filter((line) => line.includes(`tenant "${DEFAULT_TENANT}"`));
    assert.equal(report.length, 1, lines.join("\n"));
    assert.match(
      report[0] ?? "",
      new RegExp(
        `^isol8 serve: 1 key\\(s\\) share .*${legacy.info.id} \\(key "old ci"\\).*PATCH /auth/keys/<id>`,
      ),
    );
    assert.ok(!report[0]?.includes(revoked.info.id), "a revoked key is not reported");

    const legacySession = new RemoteIsol8({ host: old.url, apiKey: legacy.key, sessionId: "old" });
    await legacySession.execute({ runtime: "python", code: "print(1)" });
    assert.deepEqual(
      (await legacySession.listSessions()).map((s) => [s.id, s.tenantId]),
      [["old", DEFAULT_TENANT]],
      "the key still works, in its tenant",
    );
    await legacySession.stop();

    const moved = await old.call(`/auth/keys/${legacy.info.id}`, {
      method: "PATCH",
      body: JSON.stringify({ tenantId: "ci" }),
    });
    assert.deepEqual(await moved.json(), { ok: true, id: legacy.info.id, tenantId: "ci" });
    const unknown = await old.call("/auth/keys/no-such-key", {
      method: "PATCH",
      body: JSON.stringify({ tenantId: "ci" }),
    });
    assert.equal(unknown.status, 404);
    const asKey = await old.call(`/auth/keys/${legacy.info.id}`, {
      method: "PATCH",
      key: legacy.key,
      body: JSON.stringify({ tenantId: DEFAULT_TENANT }),
    });
    assert.equal(asKey.status, 403, "only the master key moves keys");
    const after = new RemoteIsol8({ host: old.url, apiKey: legacy.key, sessionId: "new" });
    await after.execute({ runtime: "python", code: "print(1)" });
    assert.deepEqual(
      (await after.listSessions()).map((s) => s.tenantId),
      ["ci"],
      "the same secret, now in its own tenant",
    );
    await after.stop();

    lines.length = 0;
    await startServer({ dbPath }, (line) => lines.push(line));
    assert.ok(!lines.some((line) => line.includes(`tenant "${DEFAULT_TENANT}"`)), lines.join("\n"));
  });
});

describe("expiry and cleanup", () => {
  test("an idle session is stopped and its container removed", async () => {
    const quick = await startServer({ sessions: { idleTimeoutMs: 500, sweepIntervalMs: 100 } });
    const remote = new RemoteIsol8({ host: quick.url, apiKey: MASTER, sessionId: "idle" });
    const host = await hostOf(remote);
    assert.ok(await eventually(async () => (await remote.listSessions()).length === 0, 10_000));
    assert.ok(await eventually(async () => !(await containerExists(host))));
  });

  test("listing a session's contexts does not keep it alive", async () => {
    const quick = await startServer({ sessions: { idleTimeoutMs: 1500, sweepIntervalMs: 100 } });
    const remote = new RemoteIsol8({ host: quick.url, apiKey: MASTER, sessionId: "watched" });
    const { id } = await remote.createContext({ runtime: "python" });
    const listed = async () => {
      try {
        return (await remote.listContexts()).some((context) => context.id === id);
      } catch (error) {
        if (error instanceof RemoteError && error.status === 404) return false;
        throw error;
      }
    };
    // Listed every 100 ms, the session still ends at its idle timeout.
    assert.ok(await eventually(async () => !(await listed()), 10_000));
    assert.deepEqual(await remote.listSessions(), []);
  });

  test("POST /cleanup stops sessions and idle engines and touches no other owner's container", async () => {
    const own = await startServer();
    const foreign = await docker.createContainer({
      Image: "isol8:bash",
      Entrypoint: ["sleep", "60"],
      Labels: { "isol8.managed": "true", "isol8.owner": "another-host:1" },
      HostConfig: { AutoRemove: true, NetworkMode: "none" },
    });
    try {
      await foreign.start();
      const a = new RemoteIsol8({ host: own.url, apiKey: MASTER, sessionId: "c1" });
      await a.execute({ runtime: "python", code: "print(1)" });
      await own.remote().execute({ runtime: "python", code: "print(2)" });
      const answer = await own.call("/cleanup", {
        method: "POST",
        body: JSON.stringify({ images: true }),
      });
      assert.equal(answer.status, 200);
      const report = (await answer.json()) as Record<
        string,
        { removed: number; failed: number; errors: string[] }
      >;
      assert.deepEqual(report.sessions, { removed: 1, failed: 0, errors: [] });
      assert.ok((report.containers?.removed ?? 0) >= 2, JSON.stringify(report));
      assert.deepEqual(report.images, { removed: 0, failed: 0, errors: [] });
      assert.deepEqual(await a.listSessions(), []);
      const ours = await ownContainers();
      const running = ours.filter((c) => c.State === "running");
      assert.ok(running.length <= 2, "only the other test server's warm containers may remain");
      assert.equal(
        (await foreign.inspect()).State.Running,
        true,
        "another owner's container is untouched",
      );
    } finally {
      await foreign.remove({ force: true }).catch(() => undefined);
    }
  });
});
