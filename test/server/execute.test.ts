// Executions over every transport against real Docker: POST /execute, SSE,
// WebSocket, and RemoteIsol8 over each; warm engines; cancellation on
// disconnect; 429 when the server is full.
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { describe, test } from "node:test";
import WebSocket from "ws";
import { RemoteError } from "../../src/client/remote-error.js";
import type { ExecutionResult, StreamEvent } from "../../src/types.js";
import { containerExists } from "../support/containers.js";
import { eventually, pause } from "../support/eventually.js";
import { MASTER, run, startServer } from "../support/server.js";
import { readSse } from "../support/sse.js";
import { outputRuns } from "../support/stream.js";

const srv = await startServer();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The program's container, as its hostname names it (Docker sets the hostname to the short id). */
const PRINT_HOST = "import socket, sys; print(socket.gethostname(), flush=True)";

function wsOpen(key = MASTER): WebSocket {
  return new WebSocket(`${srv.url.replace("http", "ws")}/execute/ws`, {
    headers: { Authorization: `Bearer ${key}` },
  });
}

/** Every message of a WebSocket until it closes, and its close code. */
function wsCollect(
  ws: WebSocket,
): Promise<{ events: StreamEvent[]; code: number; reason: string }> {
  const events: StreamEvent[] = [];
  ws.on("message", (data) => events.push(JSON.parse(data.toString()) as StreamEvent));
  return new Promise((resolve) =>
    ws.on("close", (code, reason) => resolve({ events, code, reason: reason.toString() })),
  );
}

describe("POST /execute", () => {
  test("runs code and answers with an ExecutionResult of the wire's shape", async () => {
    const response = await srv.call("/execute", {
      method: "POST",
      body: run("import sys; print(input()); print('err', file=sys.stderr); sys.exit(3)", {
        stdin: "from stdin\n",
        env: { GREETING: "hi" },
      }),
    });
    assert.equal(response.status, 200);
    const result = (await response.json()) as ExecutionResult;
    assert.equal(result.stdout, "from stdin\n");
    assert.equal(result.stderr, "err\n");
    assert.equal(result.exitCode, 3);
    assert.equal(result.runtime, "python");
    assert.equal(result.truncated, false);
    assert.match(result.executionId, UUID);
    assert.ok(!Number.isNaN(Date.parse(result.timestamp)));
    assert.ok(result.durationMs >= 0);
    assert.match(result.containerId ?? "", /^[0-9a-f]{64}$/);
    assert.equal(typeof result.resourceUsage?.memoryMB, "number");
  });

  test("RemoteIsol8.execute: the same result; secrets are masked", async () => {
    const remote = srv.remote(MASTER);
    await remote.start();
    const result = await remote.execute({ runtime: "bash", cmd: "echo $TOKEN; echo done" });
    assert.equal(result.stdout, "\ndone\n");
    const masked = await new (
      remote.constructor as typeof import("../../src/client/remote-isol8.js").RemoteIsol8
    )({ host: srv.url, apiKey: MASTER }, { secrets: { TOKEN: "s3cr3t-value" } }).execute({
      runtime: "bash",
      cmd: "echo $TOKEN",
    });
    assert.equal(masked.stdout, "***\n");
  });

  test("a setup script's output stays out of the program's result; a failed setup's is the result", async () => {
    const response = await srv.call("/execute", {
      method: "POST",
      body: run("print('from the program')", {
        setupScript: "echo from-setup-out; echo from-setup-err >&2",
      }),
    });
    assert.equal(response.status, 200);
    const result = (await response.json()) as ExecutionResult;
    assert.equal(result.stdout, "from the program\n");
    assert.equal(result.stderr, "");
    const failed = (await (
      await srv.call("/execute", {
        method: "POST",
        body: run("print('never runs')", { setupScript: "echo setup-said; exit 4" }),
      })
    ).json()) as ExecutionResult;
    assert.equal(failed.setupFailed, true);
    assert.equal(failed.stdout, "setup-said\n");
  });

  test("ephemeral requests share one warm engine per options set", async () => {
    const before = srv.server.context.engines.size;
    const ids = new Set<string>();
    let runs = 0;
    // Runs one after another until one lands in a container an earlier run used: a wiped
    // container comes back to the pool, rather than one cold container per request. How soon
    // depends on how fast the machine wipes, so the runs are spaced and bounded, not timed.
    const reused = await eventually(async () => {
      const result = await srv.remote().execute({ runtime: "python", code: "print(1)" });
      runs++;
      const id = result.containerId ?? "";
      if (ids.has(id)) return true;
      ids.add(id);
      await pause(200);
      return false;
    }, 15_000);
    // One engine for the default options (created by earlier tests or now), reused by every run.
    assert.ok(srv.server.context.engines.size <= Math.max(before, 1) + 1);
    assert.ok(reused, `${runs} runs used ${ids.size} containers, none of them twice`);
    await srv.remote(MASTER, {}).execute({ runtime: "python", code: "print(1)" });
    const other = new (
      srv.remote().constructor as typeof import("../../src/client/remote-isol8.js").RemoteIsol8
    )({ host: srv.url, apiKey: MASTER }, { memoryLimit: "256m" });
    const sizeBefore = srv.server.context.engines.size;
    await other.execute({ runtime: "python", code: "print(2)" });
    assert.equal(srv.server.context.engines.size, sizeBefore + 1, "other options, another engine");
  });

  test("a bad request for the engine is 400 (runtime image mismatch is caught before Docker)", async () => {
    const answer = await srv.call("/execute", {
      method: "POST",
      body: JSON.stringify({ request: { runtime: "python", code: "1", env: { A: 1 } } }),
    });
    assert.equal(answer.status, 400);
    assert.match(((await answer.json()) as { error: string }).error, /^request\.env\.A: /);
  });
});

describe("POST /execute/stream (SSE)", () => {
  test("one data line per StreamEvent, exit last; heartbeats while the program is silent", async () => {
    const response = await srv.call("/execute/stream", {
      method: "POST",
      body: run("import time\nprint('a', flush=True)\ntime.sleep(0.8)\nprint('b', flush=True)"),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
    const { events, comments } = await readSse(response);
    const stdout = events.filter((e) => e.type === "stdout");
    assert.equal(stdout.map((e) => e.data).join(""), "a\nb\n");
    assert.ok(stdout.length >= 2, "output arrives as it is printed, not in one piece at the end");
    const exit = events.at(-1);
    assert.equal(exit?.type, "exit");
    assert.equal(exit?.data, "0");
    assert.ok(
      comments.length >= 1,
      "a heartbeat comment during the 0.8 s of silence (heartbeatMs 200)",
    );
  });

  test("a timeout ends with an error event saying so, then exit", async () => {
    const response = await srv.call("/execute/stream", {
      method: "POST",
      body: run("import time; time.sleep(30)", { timeoutMs: 500 }),
    });
    const { events } = await readSse(response);
    const [error, exit] = events.slice(-2);
    assert.equal(error?.type, "error");
    assert.match(error?.data ?? "", /timed out after 500 ms/);
    assert.equal(exit?.type, "exit");
    assert.equal(exit?.data, "124", "a timeout's exit code is 124 here as in the CLI");
  });

  test("refusals come before the stream, as JSON with their status", async () => {
    const response = await srv.call("/execute/stream", {
      method: "POST",
      body: run("1", { options: { network: "host" } }),
    });
    assert.equal(response.status, 403);
    assert.match(((await response.json()) as { error: string }).error, /host networking/);
  });

  test("a client that disconnects mid-run stops the run and frees its container", async () => {
    const cancelledBefore = await cancelledCount();
    const abort = new AbortController();
    const response = await srv.call("/execute/stream", {
      method: "POST",
      body: run(`${PRINT_HOST}\nimport time\ntime.sleep(60)\nprint('never')`),
      signal: abort.signal,
    });
    let printed = "";
    await readSse(response, (event) => {
      if (event.type === "stdout") printed += event.data;
      return printed.includes("\n");
    }).catch(() => undefined);
    const shortId = printed.trim();
    abort.abort();
    assert.match(shortId, /^[0-9a-f]{12}$/);
    assert.ok(
      await eventually(async () => !(await containerExists(shortId)), 15_000),
      "container removed",
    );
    assert.ok(await eventually(() => srv.server.context.slots.running === 0), "slot freed");
    assert.ok(await eventually(async () => (await cancelledCount()) === cancelledBefore + 1));
  });

  test("RemoteIsol8.executeStream over SSE", async () => {
    const remote = srv.remote(MASTER, { transport: "sse" });
    const events: StreamEvent[] = [];
    for await (const event of remote.executeStream({
      runtime: "node",
      code: "console.log('from node')",
    }))
      events.push(event);
    assert.equal(
      events.flatMap((e) => (e.type === "stdout" ? [e.data] : [])).join(""),
      "from node\n",
    );
    assert.equal(events.at(-1)?.type, "exit");
  });
});

async function cancelledCount(): Promise<number> {
  const text = await (await srv.call("/metrics")).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith('isol8_executions_total{runtime="python",outcome="cancelled"}'));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("GET /execute/ws", () => {
  test("streams one StreamEvent per message and closes with 1000", async () => {
    const ws = wsOpen();
    const done = wsCollect(ws);
    ws.on("open", () =>
      ws.send(
        JSON.stringify({
          type: "execute",
          request: { runtime: "bash", cmd: "echo one; echo two >&2" },
        }),
      ),
    );
    const { events, code } = await done;
    assert.equal(code, 1000);
    assert.ok(
      events
        .filter((e) => e.type !== "exit")
        .every((e) => e.type === "stdout" || e.type === "stderr"),
      "nothing but output besides the exit",
    );
    assert.deepEqual(outputRuns(events), ["stdout:one\n", "stderr:two\n"]);
    assert.equal(events.at(-1)?.type, "exit");
  });

  test("a signal message reaches the program", async () => {
    const ws = wsOpen();
    const done = wsCollect(ws);
    const code = [
      "import signal, sys, time",
      "signal.signal(signal.SIGINT, lambda *a: (print('got SIGINT', flush=True), sys.exit(7)))",
      "print('ready', flush=True)",
      "time.sleep(30)",
    ].join("\n");
    ws.on("open", () =>
      ws.send(JSON.stringify({ type: "execute", request: { runtime: "python", code } })),
    );
    ws.on("message", (data) => {
      const event = JSON.parse(data.toString()) as StreamEvent;
      if (event.type === "stdout" && event.data.includes("ready"))
        ws.send(JSON.stringify({ type: "signal", signal: "SIGINT" }));
    });
    const { events } = await done;
    const stdout = events.flatMap((e) => (e.type === "stdout" ? [e.data] : [])).join("");
    assert.equal(stdout, "ready\ngot SIGINT\n");
    assert.equal(events.at(-1)?.data, "7");
  });

  test("stdin messages feed a program whose request gave no stdin; eof ends its input", async () => {
    const ws = wsOpen();
    const done = wsCollect(ws);
    const code =
      "import sys\nprint('ready', flush=True)\nfor line in sys.stdin:\n    print('got', line.strip(), flush=True)\nprint('eof')";
    ws.on("open", () =>
      ws.send(JSON.stringify({ type: "execute", request: { runtime: "python", code } })),
    );
    ws.on("message", (data) => {
      const event = JSON.parse(data.toString()) as StreamEvent;
      if (event.type === "stdout" && event.data.includes("ready")) {
        ws.send(JSON.stringify({ type: "stdin", data: "one\n" }));
        ws.send(JSON.stringify({ type: "stdin", data: "two\n", eof: true }));
      }
    });
    const { events, code: closeCode } = await done;
    assert.equal(closeCode, 1000);
    assert.equal(
      events.flatMap((e) => (e.type === "stdout" ? [e.data] : [])).join(""),
      "ready\ngot one\ngot two\neof\n",
    );
    assert.equal(events.at(-1)?.data, "0");
  });

  test("stdin messages after request.stdin are answered with an error event", async () => {
    const ws = wsOpen();
    const done = wsCollect(ws);
    ws.on("open", () => {
      ws.send(
        JSON.stringify({
          type: "execute",
          request: {
            runtime: "python",
            code: "import time; print(input()); time.sleep(0.3)",
            stdin: "up front\n",
          },
        }),
      );
      ws.send(JSON.stringify({ type: "stdin", data: "later\n" }));
    });
    const { events, code } = await done;
    assert.equal(code, 1000);
    assert.equal(
      events.flatMap((e) => (e.type === "stdout" ? [e.data] : [])).join(""),
      "up front\n",
    );
    assert.ok(
      events.some(
        (e) => e.type === "error" && /input was given in request.stdin and has ended/.test(e.data),
      ),
    );
  });

  test("refusals: an error event, then close 4000 + the HTTP status", async () => {
    const cases: [unknown, number, RegExp][] = [
      [
        {
          type: "execute",
          request: { runtime: "python", code: "1" },
          options: { network: "host" },
        },
        4403,
        /host networking/,
      ],
      [{ type: "execute", request: { runtime: "cobol", code: "1" } }, 4400, /^request\.runtime: /],
      [{ type: "stdin", data: "x" }, 4400, /^type: /],
    ];
    for (const [message, expectedCode, expectedError] of cases) {
      const ws = wsOpen();
      const done = wsCollect(ws);
      ws.on("open", () => ws.send(JSON.stringify(message)));
      const { events, code } = await done;
      assert.equal(code, expectedCode, JSON.stringify(message));
      assert.equal(events[0]?.type, "error");
      assert.match(events[0]?.data ?? "", expectedError);
    }
  });

  test("the upgrade is authenticated: a wrong key gets 403 with a JSON body", async () => {
    const ws = wsOpen("wrong");
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve) => {
      ws.on("unexpected-response", (_request, response) => {
        const chunks: Buffer[] = [];
        response.on("data", (c: Buffer) => chunks.push(c));
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
      });
      ws.on("error", () => undefined);
    });
    assert.equal(status, 403);
    assert.deepEqual(JSON.parse(body), { error: "invalid API key" });
  });

  test("RemoteIsol8.executeStream uses the WebSocket, and kill() signals the program", async () => {
    const remote = srv.remote();
    const stream = remote.executeStream({
      runtime: "python",
      code: "import time\nprint('ready', flush=True)\ntime.sleep(30)",
    });
    const events: StreamEvent[] = [];
    for await (const event of stream) {
      events.push(event);
      if (event.type === "stdout") stream.kill("SIGTERM");
    }
    assert.equal(events.at(-1)?.type, "exit");
    assert.equal(events.at(-1)?.data, String(128 + 15));
  });

  test("RemoteIsol8.executeStream throws the server's refusal as a RemoteError", async () => {
    const remote = new (
      srv.remote().constructor as typeof import("../../src/client/remote-isol8.js").RemoteIsol8
    )({ host: srv.url, apiKey: MASTER }, { memoryLimit: "64g" });
    for (const transport of ["websocket", "sse"] as const) {
      const client = new (
        remote.constructor as typeof import("../../src/client/remote-isol8.js").RemoteIsol8
      )({ host: srv.url, apiKey: MASTER, transport }, { memoryLimit: "64g" });
      await assert.rejects(
        (async () => {
          for await (const _ of client.executeStream({ runtime: "python", code: "1" })) {
          }
        })(),
        (error: unknown) =>
          error instanceof RemoteError && error.status === 403 && /64g/.test(error.message),
        transport,
      );
    }
  });
});

describe("the audit log", () => {
  test("one JSON line per execution: tenant, runtime, SHA-256 of the code, exit, duration, usage; never the code", async () => {
    const { mkdtempSync, readFileSync } = await import("node:fs");
    const { createHash } = await import("node:crypto");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const path = join(mkdtempSync(join(tmpdir(), "isol8-audit-")), "audit.jsonl");
    const audited = await startServer({ auditLog: path });
    const { key } = await audited.createKey("audited-tenant");
    const code = "print('audit me')  # secret-ish comment";
    const result = await audited
      .remote(key)
      .execute({ runtime: "python", code, metadata: { job: "42" } });
    await assert.rejects(audited.remote(key).execute({ runtime: "python", code: "1", cmd: "x" }));
    await audited.server.close();
    const lines = readFileSync(path, "utf8").trim().split("\n");
    assert.equal(lines.length, 1, "refused requests never ran, so they are not executions");
    const entry = JSON.parse(lines[0] ?? "{}") as Record<string, unknown>;
    assert.equal(entry.executionId, result.executionId);
    assert.equal(entry.tenantId, "audited-tenant");
    assert.equal(entry.runtime, "python");
    assert.equal(entry.codeSha256, createHash("sha256").update(code).digest("hex"));
    assert.equal(entry.exitCode, 0);
    assert.equal(entry.outcome, "ok");
    assert.equal(typeof entry.durationMs, "number");
    assert.equal(typeof (entry.resourceUsage as { memoryMB: number }).memoryMB, "number");
    assert.deepEqual(entry.metadata, { job: "42" });
    assert.ok(!readFileSync(path, "utf8").includes("audit me"));
  });
});

describe("a full server", () => {
  test("429 with Retry-After when every slot and queue place is taken", async () => {
    const small = await startServer({ maxConcurrent: 1, maxQueue: 0 });
    const abort = new AbortController();
    const long = await small.call("/execute/stream", {
      method: "POST",
      body: run("import time\nprint('go', flush=True)\ntime.sleep(30)"),
      signal: abort.signal,
    });
    // Still reading: a client gone would free the slot before the next requests.
    await readSse(long, (e) => e.type === "stdout", { keepOpen: true });
    const busy = await small.call("/execute", { method: "POST", body: run("print(1)") });
    assert.equal(busy.status, 429);
    assert.ok(Number(busy.headers.get("retry-after")) >= 1);
    assert.match(((await busy.json()) as { error: string }).error, /busy/);
    await assert.rejects(small.remote().execute({ runtime: "python", code: "1" }), { status: 429 });
    abort.abort();
    assert.ok(await eventually(() => small.server.context.slots.running === 0));
    const after = await small.remote().execute({ runtime: "python", code: "print(2)" });
    assert.equal(after.stdout, "2\n");
    void hostname;
  });
});
