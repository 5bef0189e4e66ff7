// Persistent sessions through the server: files, tenancy, listing, deletion,
// idle expiry, and POST /cleanup removing only this server's containers.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RemoteError } from "../../src/client/remote-error.js";
import { RemoteIsol8 } from "../../src/client/remote-isol8.js";
import { ownerLabelValue } from "../../src/engine/labels.js";
import { docker } from "../e2e/cli-helpers.js";
import { eventually, MASTER, run, startServer } from "./helpers.js";
import { readSse } from "./sse-client.js";

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

async function containerExists(shortId: string): Promise<boolean> {
  return (await docker.listContainers({ all: true, filters: { id: [shortId] } })).length > 0;
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
    assert.ok(await eventually(() => srv.server.context.admission.running === 0), "the run ended");
    const after = await a.execute({
      runtime: "python",
      code: "import socket; print(socket.gethostname(), open('/sandbox/keep.txt').read())",
    });
    assert.equal(after.stdout, `${host} still here\n`);
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

    // The master key is the default tenant: it does not see either.
    const masterList = (await (await srv.call("/sessions")).json()) as {
      sessions: { id: string }[];
    };
    assert.ok(!masterList.sessions.some((s) => s.id === "private"));
    await a.stop();
    await b.stop();
    assert.ok(await eventually(async () => !(await containerExists(hostA))));
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
      const ours = await docker.listContainers({
        all: true,
        filters: { label: [`isol8.owner=${ownerLabelValue()}`] },
      });
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
