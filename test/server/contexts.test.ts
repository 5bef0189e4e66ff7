// Code contexts through the server: the /session/:id/context routes, cells
// through /execute, /execute/stream and /execute/ws, tenancy, and RemoteIsol8.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RemoteError } from "../../src/client/remote-error.js";
import { RemoteIsol8 } from "../../src/client/remote-isol8.js";
import type { ContextInfo, ExecutionResult, StreamEvent } from "../../src/types.js";
import { docker } from "../support/containers.js";
import { eventually } from "../support/eventually.js";
import { startServer } from "../support/server.js";
import { readSse } from "../support/sse.js";
import { outputRuns } from "../support/stream.js";

const srv = await startServer();
const keyA = (await srv.createKey("tenant-a")).key;
const keyB = (await srv.createKey("tenant-b")).key;

const post = (path: string, body: unknown, key = keyA) =>
  srv.call(path, { method: "POST", key, body: JSON.stringify(body) });
const cell = (sessionId: string, contextId: string, code: string, extra = {}) => ({
  sessionId,
  request: { runtime: "python", code, contextId, ...extra },
});

const errorOf = async (response: Response) => ((await response.json()) as { error: string }).error;

async function createContext(sessionId: string, runtime = "python", key = keyA) {
  const response = await post(`/session/${sessionId}/context`, { runtime }, key);
  assert.equal(response.status, 201, await response.clone().text());
  return (await response.json()) as ContextInfo;
}

describe("context routes", () => {
  test("create, list, run cells through /execute, reset, close", async () => {
    const made = await createContext("ctx-routes");
    assert.equal(made.runtime, "python");
    const listed = await srv.call("/session/ctx-routes/context", { key: keyA });
    assert.deepEqual(await listed.json(), { contexts: [made] });

    const run = async (code: string) => {
      const response = await post("/execute", cell("ctx-routes", made.id, code));
      assert.equal(response.status, 200);
      return (await response.json()) as ExecutionResult;
    };
    await run("x = 20");
    const value = await run("x += 1\nprint('printed')\nx * 2");
    assert.equal(value.stdout, "printed\n");
    assert.equal(value.value, "42");
    assert.equal(value.exitCode, 0);

    const reset = await post(`/session/ctx-routes/context/${made.id}/reset`, {});
    assert.equal(reset.status, 200);
    assert.deepEqual(await reset.json(), { ok: true });
    assert.match((await run("x")).stderr, /NameError/);

    const container = value.containerId ?? "";
    const closed = await srv.call(`/session/ctx-routes/context/${made.id}`, {
      method: "DELETE",
      key: keyA,
    });
    assert.deepEqual(await closed.json(), { ok: true });
    assert.deepEqual(await (await srv.call("/session/ctx-routes/context", { key: keyA })).json(), {
      contexts: [],
    });
    assert.equal(
      (await docker.listContainers({ all: true, filters: { id: [container] } })).length,
      0,
    );
    const again = await srv.call(`/session/ctx-routes/context/${made.id}`, {
      method: "DELETE",
      key: keyA,
    });
    assert.equal(again.status, 404);
  });

  test("cells stream through SSE and the WebSocket, with timeouts and restarts reported", async () => {
    const { id } = await createContext("ctx-stream");
    const sse = await readSse(
      await post(
        "/execute/stream",
        cell("ctx-stream", id, "import sys\nprint('a')\nprint('b', file=sys.stderr)\n7"),
      ),
    );
    assert.deepEqual(outputRuns(sse.events).slice(0, 2), ["stdout:a\n", "stderr:b\n"]);
    const exit = sse.events.at(-1) as Extract<StreamEvent, { type: "exit" }>;
    assert.equal(exit.type, "exit");
    assert.equal(exit.result.value, "7");

    const remote = new RemoteIsol8({
      host: srv.url,
      apiKey: keyA,
      sessionId: "ctx-stream",
      transport: "websocket",
    });
    await remote.execute({ runtime: "python", code: "kept = 1", contextId: id });
    const ws: StreamEvent[] = [];
    for await (const event of remote.executeStream({
      runtime: "python",
      code: "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass",
      contextId: id,
      timeoutMs: 300,
    }))
      ws.push(event);
    const error = ws.find((e) => e.type === "error");
    assert.match(error?.data ?? "", /restarted and its state is lost/);
    const last = ws.at(-1) as Extract<StreamEvent, { type: "exit" }>;
    assert.equal(last.result.contextRestarted, true);
    assert.equal(last.result.timedOut, true);
    assert.equal(last.result.exitCode, 124);

    // A SIGINT sent over the socket interrupts the cell; the context goes on.
    await remote.execute({ runtime: "python", code: "kept = 2", contextId: id });
    const run = remote.executeStream({
      runtime: "python",
      code: "import time\nprint('started', flush=True)\ntime.sleep(30)",
      contextId: id,
    });
    const interrupted: StreamEvent[] = [];
    for await (const event of run) {
      interrupted.push(event);
      if (event.type === "stdout") run.kill("SIGINT");
    }
    const end = interrupted.at(-1) as Extract<StreamEvent, { type: "exit" }>;
    assert.equal(end.result.exitCode, 130);
    assert.equal(end.result.contextRestarted, undefined);
    assert.equal(
      (await remote.execute({ runtime: "python", code: "kept", contextId: id })).value,
      "2",
    );
    await remote.stop();
  });

  test("refusals: no sessionId, unknown session or context, other runtime, bad runtime", async () => {
    const { id } = await createContext("ctx-refusals");
    const noSession = await post("/execute", {
      request: { runtime: "python", code: "1", contextId: id },
    });
    assert.equal(noSession.status, 400);
    assert.match(await errorOf(noSession), /^request\.contextId: .*sessionId/);
    const noSuchSession = await post("/execute", cell("ctx-missing", id, "1"));
    assert.equal(noSuchSession.status, 404);
    const unknown = await post("/execute", cell("ctx-refusals", "nope", "1"));
    assert.equal(unknown.status, 400);
    assert.match(await errorOf(unknown), /^request\.contextId: no context "nope"/);
    const otherRuntime = await post("/execute", {
      sessionId: "ctx-refusals",
      request: { runtime: "node", code: "1", contextId: id },
    });
    assert.equal(otherRuntime.status, 400);
    assert.match(await errorOf(otherRuntime), /runs python, not node/);
    const withStdin = await post("/execute/stream", cell("ctx-refusals", id, "1", { stdin: "x" }));
    assert.equal(withStdin.status, 400);
    assert.match(await errorOf(withStdin), /^request\.stdin: not supported with contextId/);
    const bash = await post("/session/ctx-refusals/context", { runtime: "bash" });
    assert.equal(bash.status, 400);
    assert.match(await errorOf(bash), /contexts run python or node/);
    const badBody = await post("/session/ctx-refusals/context", { runtime: "cobol" });
    assert.equal(badBody.status, 400);
    for (const [method, path] of [
      ["GET", "/session/ctx-missing/context"],
      ["POST", `/session/ctx-missing/context/${id}/reset`],
      ["DELETE", `/session/ctx-missing/context/${id}`],
      ["POST", "/session/ctx-refusals/context/nope/reset"],
      ["DELETE", "/session/ctx-refusals/context/nope"],
    ] as const) {
      const response = await srv.call(path, { method, key: keyA });
      assert.equal(response.status, 404, `${method} ${path}`);
    }
  });

  test("another tenant sees neither the session nor its contexts", async () => {
    const { id } = await createContext("ctx-tenant");
    await post("/execute", cell("ctx-tenant", id, "secret = 'a'"));
    const list = await srv.call("/session/ctx-tenant/context", { key: keyB });
    assert.equal(list.status, 404);
    const run = await post("/execute", cell("ctx-tenant", id, "secret"), keyB);
    assert.equal(run.status, 404);
    // In a session of its own by the same name, the id means nothing.
    await createContext("ctx-tenant", "python", keyB);
    const own = await post("/execute", cell("ctx-tenant", id, "secret"), keyB);
    assert.equal(own.status, 400);
    const reset = await post(`/session/ctx-tenant/context/${id}/reset`, {}, keyB);
    assert.equal(reset.status, 404);
  });

  test("GET /openapi.json describes the context routes and result fields", async () => {
    const doc = (await (await srv.call("/openapi.json")).json()) as {
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: { ExecutionResult: { properties: Record<string, unknown> } } };
    };
    assert.ok(doc.paths["/session/{id}/context"]?.post);
    assert.ok(doc.paths["/session/{id}/context"]?.get);
    assert.ok(doc.paths["/session/{id}/context/{cid}/reset"]?.post);
    assert.ok(doc.paths["/session/{id}/context/{cid}"]?.delete);
    assert.ok(doc.components.schemas.ExecutionResult.properties.value);
    assert.ok(doc.components.schemas.ExecutionResult.properties.contextRestarted);
    const execute = JSON.stringify(doc.paths["/execute"]);
    assert.match(execute, /contextId/);
  });
});

describe("a full server", () => {
  test("making or resetting a context takes an execution slot: 429 when none is free", async () => {
    const small = await startServer({ maxConcurrent: 1, maxQueue: 0 });
    const key = (await small.createKey("tenant-full")).key;
    const postTo = (path: string, body: unknown, signal?: AbortSignal) =>
      small.call(path, { method: "POST", key, body: JSON.stringify(body), signal });
    const made = await postTo("/session/full/context", { runtime: "python" });
    assert.equal(made.status, 201);
    const { id } = (await made.json()) as ContextInfo;

    const abort = new AbortController();
    const long = await postTo(
      "/execute/stream",
      {
        request: {
          runtime: "python",
          code: "import time\nprint('go', flush=True)\ntime.sleep(30)",
        },
      },
      abort.signal,
    );
    // Still reading: a client gone would free the slot before the next requests.
    await readSse(long, (e) => e.type === "stdout", { keepOpen: true });
    const another = await postTo("/session/full/context", { runtime: "python" });
    assert.equal(another.status, 429, await another.clone().text());
    assert.match(await errorOf(another), /busy/);
    const reset = await postTo(`/session/full/context/${id}/reset`, {});
    assert.equal(reset.status, 429);
    await reset.body?.cancel();
    const listed = await small.call("/session/full/context", { key });
    assert.deepEqual(await listed.json(), { contexts: [{ id, runtime: "python" }] });

    abort.abort();
    assert.ok(await eventually(() => small.server.context.slots.running === 0));
    assert.equal((await postTo(`/session/full/context/${id}/reset`, {})).status, 200);
    const second = await postTo("/session/full/context", { runtime: "node" });
    assert.equal(second.status, 201);
    await second.body?.cancel();
    assert.equal(small.server.context.slots.running, 0);
  });
});

describe("RemoteIsol8 contexts", () => {
  test("createContext, execute with contextId, listContexts, resetContext, closeContext", async () => {
    const remote = new RemoteIsol8({ host: srv.url, apiKey: keyA, sessionId: "ctx-remote" });
    const py = await remote.createContext({ runtime: "python" });
    const js = await remote.createContext({ runtime: "node" });
    assert.deepEqual((await remote.listContexts()).map((c) => c.id).sort(), [py.id, js.id].sort());
    await remote.execute({ runtime: "python", code: "n = 1", contextId: py.id });
    await remote.execute({ runtime: "node", code: "let n = 10", contextId: js.id });
    assert.equal(
      (await remote.execute({ runtime: "python", code: "n + 1", contextId: py.id })).value,
      "2",
    );
    assert.equal(
      (await remote.execute({ runtime: "node", code: "n + 1", contextId: js.id })).value,
      "11",
    );
    await remote.resetContext(py.id);
    const gone = await remote.execute({ runtime: "python", code: "n", contextId: py.id });
    assert.match(gone.stderr, /NameError/);
    await remote.closeContext(js.id);
    assert.deepEqual(await remote.listContexts(), [{ id: py.id, runtime: "python" }]);
    await assert.rejects(
      remote.closeContext(js.id),
      (error: Error) => error instanceof RemoteError && error.status === 404,
    );
    // Without a sessionId, contexts live in a session the client makes for them, ended by stop();
    // files outside a context still need one.
    const noSession = new RemoteIsol8({ host: srv.url, apiKey: keyA });
    await assert.rejects(noSession.putFile("/sandbox/a.txt", "a"), /needs a session/);
    const own = await noSession.createContext({ runtime: "python" });
    assert.equal(
      (await noSession.execute({ runtime: "python", code: "6 * 7", contextId: own.id })).value,
      "42",
    );
    assert.deepEqual(await noSession.listContexts(), [own]);
    const ownSessions = (await noSession.listSessions()).filter((s) =>
      s.id.startsWith("contexts-"),
    );
    assert.equal(ownSessions.length, 1);
    await noSession.stop();
    assert.deepEqual(await noSession.listContexts(), []);
    assert.ok(!(await noSession.listSessions()).some((s) => s.id === ownSessions[0]?.id));
    // Ending the session closes its contexts.
    await remote.stop();
    await assert.rejects(
      remote.listContexts(),
      (error: Error) => error instanceof RemoteError && error.status === 404,
    );
  });
});

describe("context files", () => {
  test("POST and GET /file with contextId reach the context's /sandbox; other tenants and unknown ids get 404", async () => {
    const { id } = await createContext("ctx-files");
    const upload = await post("/file", {
      sessionId: "ctx-files",
      contextId: id,
      path: "/sandbox/in.txt",
      content: Buffer.from("uploaded").toString("base64"),
    });
    assert.equal(upload.status, 200, await upload.clone().text());
    const read = await post(
      "/execute",
      cell("ctx-files", id, "open('/sandbox/in.txt').read().upper()"),
    );
    assert.equal(((await read.json()) as ExecutionResult).value, "'UPLOADED'");
    await post(
      "/execute",
      cell("ctx-files", id, "open('/sandbox/out.txt', 'w').write('made in a cell')"),
    );
    const query = (extra: Record<string, string>) =>
      `/file?${new URLSearchParams({ sessionId: "ctx-files", path: "/sandbox/out.txt", ...extra })}`;
    const download = await srv.call(query({ contextId: id }), { key: keyA });
    assert.equal(download.status, 200);
    const { content } = (await download.json()) as { content: string };
    assert.equal(Buffer.from(content, "base64").toString(), "made in a cell");
    // The session's own /sandbox is another place.
    const session = await srv.call(query({}), { key: keyA });
    assert.equal(session.status, 404);
    assert.match(await errorOf(session), /\/sandbox\/out\.txt: no such file/);

    const unknown = await srv.call(query({ contextId: "nope" }), { key: keyA });
    assert.equal(unknown.status, 404);
    assert.match(await errorOf(unknown), /no context "nope" in session "ctx-files"/);
    assert.equal((await srv.call(query({ contextId: id }), { key: keyB })).status, 404);
    // Neither another tenant's session of the same name nor another session of the same tenant knows it.
    await createContext("ctx-files", "python", keyB);
    const otherTenant = await srv.call(query({ contextId: id }), { key: keyB });
    assert.equal(otherTenant.status, 404);
    assert.match(await errorOf(otherTenant), /no context/);
    const putByB = await post(
      "/file",
      { sessionId: "ctx-files", contextId: id, path: "/sandbox/x", content: "" },
      keyB,
    );
    assert.equal(putByB.status, 404);
    await putByB.body?.cancel();
    await createContext("ctx-files-2");
    const otherSession = await srv.call(
      `/file?${new URLSearchParams({ sessionId: "ctx-files-2", path: "/sandbox/out.txt", contextId: id })}`,
      { key: keyA },
    );
    assert.equal(otherSession.status, 404);
    await otherSession.body?.cancel();
    const noSession = await post("/file", {
      sessionId: "ctx-files-none",
      contextId: id,
      path: "/sandbox/x",
      content: "",
    });
    assert.equal(noSession.status, 404);
    await noSession.body?.cancel();
    const outside = await srv.call(
      query({ contextId: id }).replace("out.txt", "..%2F..%2Fetc%2Fpasswd"),
      { key: keyA },
    );
    assert.equal(outside.status, 400);
    assert.match(await errorOf(outside), /outside \/sandbox/);
  });

  test("RemoteIsol8 putFile and getFile take a contextId", async () => {
    const remote = new RemoteIsol8({ host: srv.url, apiKey: keyA, sessionId: "ctx-remote-files" });
    const { id } = await remote.createContext({ runtime: "node" });
    await remote.putFile("/sandbox/n.txt", "41", { contextId: id });
    const sum = await remote.execute({
      runtime: "node",
      contextId: id,
      code: "Number(require('fs').readFileSync('/sandbox/n.txt', 'utf8')) + 1",
    });
    assert.equal(sum.value, "42");
    await remote.execute({
      runtime: "node",
      contextId: id,
      code: "require('fs').writeFileSync('/sandbox/m.bin', Buffer.from([0, 255, 1]))",
    });
    assert.deepEqual(
      await remote.getFile("/sandbox/m.bin", { contextId: id }),
      Buffer.from([0, 255, 1]),
    );
    await remote.stop();
  });
});
