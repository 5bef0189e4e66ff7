// Answers of runs on a real engine (Docker) checked against the document
// GET /openapi.json serves: a buffered result with files, a failed setup,
// a streamed run's events with their phase, WebSocket messages, a code
// context's routes, a session's file routes and a sandbox's.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import WebSocket from "ws";
import { documentChecker, type OpenApiDocument } from "../support/openapi.js";
import { MASTER, run, startServer } from "../support/server.js";
import { readSse } from "../support/sse.js";

const srv = await startServer();
const checker = documentChecker(
  (await (await srv.request("/openapi.json")).json()) as OpenApiDocument,
);

describe("a real engine's answers match the document", () => {
  test("POST /execute: result.files, and setupFailed when the setup script fails", async () => {
    const made = (await checker.answer(
      "post",
      "/execute",
      await srv.call("/execute", {
        method: "POST",
        body: run("open('/sandbox/out.txt', 'w').write('made')", {
          setupScript: "echo set up",
          outputPaths: ["/sandbox/out.txt", "/sandbox/missing.txt"],
        }),
      }),
    )) as { files: Record<string, string>; fileErrors: Record<string, string> };
    assert.deepEqual(made.files, { "/sandbox/out.txt": Buffer.from("made").toString("base64") });
    assert.ok(made.fileErrors["/sandbox/missing.txt"]);

    const failed = (await checker.answer(
      "post",
      "/execute",
      await srv.call("/execute", {
        method: "POST",
        body: run("print('never')", { setupScript: "exit 3" }),
      }),
    )) as { setupFailed?: boolean; resourceUsage?: unknown };
    assert.equal(failed.setupFailed, true);
  });

  test("POST /execute: networkLogs of a filtered run", async () => {
    const code = [
      "import urllib.request",
      "try: urllib.request.urlopen('http://elsewhere.test/x', timeout=10)",
      "except Exception as e: print('refused')",
    ].join("\n");
    const result = (await checker.answer(
      "post",
      "/execute",
      await srv.call("/execute", {
        method: "POST",
        body: run(code, {
          options: {
            network: "filtered",
            networkFilter: { whitelist: ["allowed\\.test"] },
            logNetwork: true,
          },
        }),
      }),
    )) as { stdout: string; networkLogs: { action: string; host: string; path: string | null }[] };
    assert.equal(result.stdout, "refused\n");
    assert.deepEqual(
      result.networkLogs.map((e) => [e.action, e.host, e.path]),
      [["BLOCK", "elsewhere.test", "/x"]],
    );
  });

  test("POST /execute/stream: every event is a StreamEvent, with phase when there is a setup", async () => {
    const response = await srv.call("/execute/stream", {
      method: "POST",
      body: run("print('code')", { setupScript: "echo setup" }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
    const { events } = await readSse(response);
    for (const event of events) checker.component("StreamEvent", event);
    const phases = events
      .filter((e) => e.type === "stdout")
      .map((e) => (e as { phase?: string }).phase);
    assert.deepEqual([...new Set(phases)], ["setup", "code"]);
    assert.equal(events.at(-1)?.type, "exit");
  });

  test("GET /execute/ws: every message is a StreamEvent, and a message the client sends is an ExecuteMessage", async () => {
    const execute = { type: "execute", request: { runtime: "python", code: "print('ws')" } };
    checker.component("ExecuteMessage", execute);
    checker.component("ControlMessage", { type: "stdin", data: "", eof: true });
    const ws = new WebSocket(`${srv.url.replace("http", "ws")}/execute/ws`, {
      headers: { Authorization: `Bearer ${MASTER}` },
    });
    const messages: unknown[] = [];
    const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
    ws.on("message", (data) => messages.push(JSON.parse(String(data))));
    ws.on("open", () => ws.send(JSON.stringify(execute)));
    assert.equal(await closed, 1000);
    for (const message of messages) checker.component("StreamEvent", message);
    const last = messages.at(-1) as { type: string; data: string };
    assert.deepEqual([last.type, last.data], ["exit", "0"]);
  });

  test("the context routes: 201 when made, then list, reset and close", async () => {
    const made = await srv.call("/session/ctx-documented/context", {
      method: "POST",
      body: JSON.stringify({ runtime: "python" }),
    });
    assert.equal(made.status, 201);
    const { id } = (await checker.answer("post", "/session/{id}/context", made)) as { id: string };
    const listed = (await checker.answer(
      "get",
      "/session/{id}/context",
      await srv.call("/session/ctx-documented/context"),
    )) as { contexts: { id: string }[] };
    assert.deepEqual(
      listed.contexts.map((c) => c.id),
      [id],
    );
    const cell = (await checker.answer(
      "post",
      "/execute",
      await srv.call("/execute", {
        method: "POST",
        body: run("6 * 7", { contextId: id, sessionId: "ctx-documented" }),
      }),
    )) as { value?: string };
    assert.equal(cell.value, "42");
    await checker.answer(
      "post",
      "/session/{id}/context/{cid}/reset",
      await srv.call(`/session/ctx-documented/context/${id}/reset`, { method: "POST" }),
    );
    await checker.answer(
      "delete",
      "/session/{id}/context/{cid}",
      await srv.call(`/session/ctx-documented/context/${id}`, { method: "DELETE" }),
    );
    await srv.call("/session/ctx-documented", { method: "DELETE" });
  });

  test("POST /file with createSession, GET /file, GET /sessions, DELETE /session/{id}", async () => {
    await checker.answer(
      "post",
      "/file",
      await srv.call("/file", {
        method: "POST",
        body: JSON.stringify({
          sessionId: "documented",
          path: "/sandbox/in.txt",
          content: Buffer.from("in").toString("base64"),
          createSession: true,
        }),
      }),
    );
    const file = (await checker.answer(
      "get",
      "/file",
      await srv.call("/file?sessionId=documented&path=/sandbox/in.txt"),
    )) as { content: string };
    assert.equal(Buffer.from(file.content, "base64").toString(), "in");
    const missing = await srv.call("/file?sessionId=documented&path=/sandbox/none.txt");
    assert.equal(missing.status, 404);
    await checker.answer("get", "/file", missing);
    const listed = (await checker.answer("get", "/sessions", await srv.call("/sessions"))) as {
      sessions: { id: string }[];
    };
    assert.deepEqual(
      listed.sessions.map((s) => s.id),
      ["documented"],
    );
    await checker.answer(
      "delete",
      "/session/{id}",
      await srv.call("/session/documented", { method: "DELETE" }),
    );
  });

  test("a sandbox's file routes: entries, listings, bytes, refusals", async () => {
    const sandbox = (await (
      await srv.call("/sandboxes", { method: "POST", body: "{}" })
    ).json()) as { sandboxId: string };
    const base = `/sandboxes/${sandbox.sandboxId}/files`;
    const written = (await checker.answer(
      "put",
      "/sandboxes/{id}/files",
      await srv.call(`${base}?path=/sandbox/d/a.txt`, {
        method: "PUT",
        headers: { "Content-Type": "application/octet-stream" },
        body: "documented",
      }),
    )) as { size: number; modifiedTime: string };
    assert.equal(written.size, 10);
    assert.ok(!Number.isNaN(Date.parse(written.modifiedTime)));
    const bytes = await checker.answer(
      "get",
      "/sandboxes/{id}/files",
      await srv.call(`${base}?path=/sandbox/d/a.txt`),
    );
    assert.equal(bytes, "documented");
    const listed = (await checker.answer(
      "get",
      "/sandboxes/{id}/files/list",
      await srv.call(`${base}/list?path=/sandbox&depth=2`),
    )) as { entries: { path: string }[] };
    assert.deepEqual(listed.entries.map((e) => e.path).sort(), ["/sandbox/d", "/sandbox/d/a.txt"]);
    await checker.answer(
      "get",
      "/sandboxes/{id}/files/info",
      await srv.call(`${base}/info?path=/sandbox/d`),
    );
    const made = { method: "POST", body: JSON.stringify({ path: "/sandbox/e" }) };
    await checker.answer("post", "/sandboxes/{id}/files/dir", await srv.call(`${base}/dir`, made));
    await checker.answer(
      "post",
      "/sandboxes/{id}/files/rename",
      await srv.call(`${base}/rename`, {
        method: "POST",
        body: JSON.stringify({ from: "/sandbox/d/a.txt", to: "/sandbox/e/a.txt" }),
      }),
    );
    await checker.answer(
      "delete",
      "/sandboxes/{id}/files",
      await srv.call(`${base}?path=/sandbox/e`, { method: "DELETE" }),
    );
    const refusals: [string, string, Response][] = [
      ["get", "/sandboxes/{id}/files", await srv.call(`${base}?path=/sandbox/e/a.txt`)],
      ["get", "/sandboxes/{id}/files/info", await srv.call(`${base}/info?path=/etc/passwd`)],
      ["get", "/sandboxes/{id}/files/list", await srv.call(`${base}/list?path=/sandbox&depth=x`)],
      ["get", "/sandboxes/{id}/files/watch", await srv.call(`${base}/watch?path=/sandbox/e`)],
    ];
    const answered = [];
    for (const [method, path, response] of refusals) {
      const body = (await checker.answer(method, path, response)) as { code?: string };
      answered.push([response.status, body.code]);
    }
    assert.deepEqual(answered, [
      [404, "FILE_NOT_FOUND"],
      [400, "FILE_REFUSED"],
      [400, "INVALID_REQUEST"],
      [404, "FILE_NOT_FOUND"],
    ]);
    await srv.call(`/sandboxes/${sandbox.sandboxId}`, { method: "DELETE" });
  });

  test("POST /cleanup", async () => {
    const report = (await checker.answer(
      "post",
      "/cleanup",
      await srv.call("/cleanup", { method: "POST", body: JSON.stringify({ images: true }) }),
    )) as { images?: unknown };
    assert.ok(report.images);
  });
});
