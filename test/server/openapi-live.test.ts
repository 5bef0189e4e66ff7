// Answers of runs on a real engine (Docker) checked against the document
// GET /openapi.json serves: a buffered result with files, a failed setup,
// a streamed run's events with their phase, WebSocket messages, a code
// context's routes and a session's file routes.
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

  test("POST /cleanup", async () => {
    const report = (await checker.answer(
      "post",
      "/cleanup",
      await srv.call("/cleanup", { method: "POST", body: JSON.stringify({ images: true }) }),
    )) as { images?: unknown };
    assert.ok(report.images);
  });
});
