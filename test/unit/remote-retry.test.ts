// RemoteIsol8 against a real HTTP server on loopback that answers as told:
// a busy server's 429 is retried after its Retry-After within the client's
// bounds, and a refusal's code comes back as the library's own error class.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { retryAfterMs } from "../../src/client/remote-error.js";
import {
  InvalidOptionError,
  InvalidRequestError,
  RemoteError,
  RemoteIsol8,
  SandboxFileError,
} from "../../src/index.js";

type Answer = (request: IncomingMessage, response: ServerResponse) => void;

/** A server that answers its n-th request with `answers[n]` (the last one from then on), recording when each came. */
async function answering(t: { after(fn: () => void): void }, answers: Answer[]) {
  const arrivals: { at: number; method: string; url: string }[] = [];
  const server = createServer((request, response) => {
    arrivals.push({ at: performance.now(), method: request.method ?? "", url: request.url ?? "" });
    const answer = answers[Math.min(arrivals.length - 1, answers.length - 1)] as Answer;
    request.resume().on("end", () => answer(request, response));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { host, arrivals };
}

const busy =
  (retryAfter?: string): Answer =>
  (_request, response) => {
    response
      .writeHead(429, {
        "Content-Type": "application/json",
        ...(retryAfter === undefined ? {} : { "Retry-After": retryAfter }),
      })
      .end(JSON.stringify({ error: "the server is busy" }));
  };

const json =
  (status: number, body: unknown): Answer =>
  (_request, response) => {
    response.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
  };

const RESULT = { stdout: "ok\n", stderr: "", exitCode: 0, durationMs: 1, truncated: false };

test("a 429 is retried after its Retry-After, and the 200 that follows is the answer", async (t) => {
  const { host, arrivals } = await answering(t, [busy("1"), json(200, RESULT)]);
  const client = new RemoteIsol8({ host, apiKey: "k" });
  const result = await client.execute({ runtime: "python", code: "print('ok')" });
  assert.equal(result.stdout, "ok\n");
  assert.equal(arrivals.length, 2);
  const waited = (arrivals[1]?.at ?? 0) - (arrivals[0]?.at ?? 0);
  assert.ok(waited >= 950, `retried after ${waited} ms, before the server's Retry-After of 1 s`);
  assert.ok(waited < 5000, `retried after ${waited} ms`);
});

test("a streamed run's 429 (SSE) is retried the same way", async (t) => {
  const events = (_request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(200, { "Content-Type": "text/event-stream" });
    response.write(`data: ${JSON.stringify({ type: "stdout", data: "hi\n" })}\n\n`);
    response.end(`data: ${JSON.stringify({ type: "exit", data: "0", result: RESULT })}\n\n`);
  };
  const { host, arrivals } = await answering(t, [busy("0"), events]);
  const client = new RemoteIsol8({ host, apiKey: "k", transport: "sse" });
  const seen: string[] = [];
  for await (const event of client.executeStream({ runtime: "python", code: "print('hi')" }))
    seen.push(event.type);
  assert.deepEqual(seen, ["stdout", "exit"]);
  assert.deepEqual(
    arrivals.map((a) => `${a.method} ${a.url}`),
    ["POST /execute/stream", "POST /execute/stream"],
  );
});

test("after maxAttempts 429s the client gives up with a RemoteError that says so", async (t) => {
  const { host, arrivals } = await answering(t, [busy("0")]);
  const client = new RemoteIsol8({ host, apiKey: "k", retry: { maxAttempts: 3 } });
  await assert.rejects(client.listSessions(), (error: unknown) => {
    assert.ok(error instanceof RemoteError);
    assert.equal(error.status, 429);
    assert.equal(error.message, "the server is busy (gave up after 3 attempts)");
    return true;
  });
  assert.equal(arrivals.length, 3);
});

test("a Retry-After past maxWaitMs gives up at once, naming the wait and the bound", async (t) => {
  const { host, arrivals } = await answering(t, [busy("120"), json(200, { sessions: [] })]);
  const client = new RemoteIsol8({ host, apiKey: "k", retry: { maxWaitMs: 5000 } });
  const started = performance.now();
  await assert.rejects(client.listSessions(), (error: unknown) => {
    assert.ok(error instanceof RemoteError);
    assert.equal(error.status, 429);
    assert.equal(error.retryAfterMs, 120_000);
    assert.match(error.message, /gave up after 1 attempt: the server asked for 120 s more/);
    assert.match(error.message, /5 s of waiting in all \(retry\.maxWaitMs\)/);
    return true;
  });
  assert.ok(performance.now() - started < 1000);
  assert.equal(arrivals.length, 1);
});

test("maxAttempts 1 never retries", async (t) => {
  const { host, arrivals } = await answering(t, [busy("0"), json(200, { sessions: [] })]);
  const client = new RemoteIsol8({ host, apiKey: "k", retry: { maxAttempts: 1 } });
  await assert.rejects(client.listSessions(), /gave up after 1 attempt\)$/);
  assert.equal(arrivals.length, 1);
});

test("aborting a streamed run's signal ends its wait for a busy server at once", async (t) => {
  const { host, arrivals } = await answering(t, [busy("10")]);
  const client = new RemoteIsol8({ host, apiKey: "k", transport: "sse" });
  const abort = new AbortController();
  const reason = new Error("caller gave up");
  const started = performance.now();
  setTimeout(() => abort.abort(reason), 200);
  await assert.rejects(
    client.executeStream({ runtime: "python", code: "1" }, { signal: abort.signal }).next(),
    (error: unknown) => error === reason,
  );
  assert.ok(performance.now() - started < 3000);
  assert.equal(arrivals.length, 1);
});

test("retry bounds that are not whole numbers are refused when the client is made", () => {
  assert.throws(
    () => new RemoteIsol8({ host: "http://127.0.0.1:9", apiKey: "k", retry: { maxAttempts: 0 } }),
    (error: unknown) =>
      error instanceof InvalidOptionError && /retry\.maxAttempts/.test(String(error)),
  );
  assert.throws(
    () => new RemoteIsol8({ host: "http://127.0.0.1:9", apiKey: "k", retry: { maxWaitMs: -1 } }),
    (error: unknown) =>
      error instanceof InvalidOptionError && /retry\.maxWaitMs/.test(String(error)),
  );
});

test("Retry-After is read as seconds or as an HTTP date", () => {
  assert.equal(retryAfterMs("3"), 3000);
  assert.equal(retryAfterMs("0"), 0);
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(retryAfterMs("Thu, 01 Jan 2026 00:00:07 GMT", now), 7000);
  assert.equal(retryAfterMs("Wed, 31 Dec 2025 00:00:00 GMT", now), 0);
  assert.equal(retryAfterMs("soon"), undefined);
  assert.equal(retryAfterMs(null), undefined);
});

test("a refusal's code is thrown as the library's class; one without a code stays a RemoteError", async (t) => {
  const { host } = await answering(t, [
    json(400, { error: "request.timeoutMs: Too small", code: "INVALID_REQUEST" }),
    json(400, { error: "options.cpuLimit: Too small", code: "INVALID_OPTION" }),
    json(404, { error: "/sandbox/x: No such file or directory", code: "SANDBOX_FILE" }),
    json(403, { error: "options.network: not allowed by this server's policy" }),
    json(400, { error: "from a newer server", code: "SOMETHING_NEW" }),
  ]);
  const client = new RemoteIsol8({ host, apiKey: "k", sessionId: "s" });
  const request = { runtime: "python" as const, code: "1" };
  await assert.rejects(client.execute(request), (error: unknown) => {
    assert.ok(error instanceof InvalidRequestError);
    assert.equal(error.message, "request.timeoutMs: Too small");
    return true;
  });
  await assert.rejects(
    client.execute(request),
    (error: unknown) =>
      error instanceof InvalidOptionError && !(error instanceof InvalidRequestError),
  );
  await assert.rejects(client.getFile("/sandbox/x"), (error: unknown) => {
    assert.ok(error instanceof SandboxFileError);
    assert.equal(error.path, "/sandbox/x");
    assert.equal(error.message, "/sandbox/x: No such file or directory");
    return true;
  });
  await assert.rejects(
    client.execute(request),
    (error: unknown) => error instanceof RemoteError && error.status === 403,
  );
  await assert.rejects(
    client.execute(request),
    (error: unknown) => error instanceof RemoteError && error.status === 400,
  );
});

test("files outside a context without a sessionId are refused as a local engine that is not persistent refuses them", async () => {
  const client = new RemoteIsol8({ host: "http://127.0.0.1:9", apiKey: "k" });
  await assert.rejects(client.putFile("/sandbox/a", "x"), InvalidOptionError);
  await assert.rejects(client.getFile("/sandbox/a"), /getFile needs a session/);
  assert.deepEqual(await client.listContexts(), []);
});
