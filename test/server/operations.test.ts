// `isol8 serve` as an operator runs it: what it answers while the Docker
// engine is away and once it is back, and the log it writes (one entry per
// request, text or JSON, with request ids, and never a key or a body).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import { cleanEnv } from "../support/cli.js";
import { containersOf } from "../support/containers.js";
import { eventually } from "../support/eventually.js";
import { type ServedCli, serveCli } from "../support/serve-cli.js";

const KEY = "ops-master-key-0123456789";

/** The socket of the Docker engine the rest of the suite uses. */
const REAL_SOCKET = process.env.DOCKER_HOST?.startsWith("unix://")
  ? process.env.DOCKER_HOST.slice("unix://".length)
  : "/var/run/docker.sock";

before(() => {
  // The tests run the bundle; make sure it is the current source's.
  execFileSync(process.execPath, ["scripts/bundle-cli.mjs"], {
    cwd: new URL("../..", import.meta.url).pathname,
  });
});

/** A served CLI, stopped when the file ends. */
async function serve(
  env: Record<string, string> = cleanEnv(),
  args: string[] = [],
  config: Record<string, unknown> = {},
): Promise<ServedCli> {
  const served = await serveCli(KEY, env, args, config);
  after(() => served.stop());
  return served;
}

const headers = { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" };
const execute = (url: string, code: string, extra: Record<string, unknown> = {}) =>
  fetch(`${url}/execute`, {
    method: "POST",
    headers,
    body: JSON.stringify({ request: { runtime: "python", code }, ...extra }),
  });

describe("the Docker engine unreachable", () => {
  // A socket path in a folder of the test's own: nothing listens there until
  // the test links it to the real engine's socket, the engine "coming back".
  const dir = mkdtempSync(join(tmpdir(), "isol8-ops-docker-"));
  const socket = join(dir, "docker.sock");
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("503 with Retry-After and Docker's message (streams and sockets too), /health degraded; all recover once it answers", async () => {
    const served = await serve(cleanEnv({ DOCKER_HOST: `unix://${socket}` }));

    const health = await fetch(`${served.url}/health`);
    assert.equal(health.status, 503);
    assert.equal(health.headers.get("retry-after"), "5");
    const degraded = (await health.json()) as Record<string, string>;
    assert.equal(degraded.status, "degraded");
    assert.equal(degraded.docker, "unreachable");
    assert.match(degraded.error ?? "", /^Docker is not reachable at unix:\/\/.*docker\.sock/);

    const refused = await execute(served.url, "print(1)");
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "5");
    const { error } = (await refused.json()) as { error: string };
    assert.match(error, /^Docker is not reachable at unix:\/\/\S+docker\.sock \(connect ENOENT/);
    assert.match(error, /Start the Docker engine/);
    assert.doesNotMatch(error, /internal error/);
    assert.doesNotMatch(served.stderr(), /internal error|at PipeConnectWrap/, "no stack logged");

    const stream = await fetch(`${served.url}/execute/stream`, {
      method: "POST",
      headers,
      body: JSON.stringify({ request: { runtime: "python", code: "print(1)" } }),
    });
    const event = JSON.parse(/^data: (.*)$/m.exec(await stream.text())?.[1] ?? "null");
    assert.equal(event?.type, "error");
    assert.match(
      event?.data,
      /^Docker is not reachable at /,
      "a stream ends with Docker's message",
    );

    const ws = new WebSocket(`${served.url.replace("http", "ws")}/execute/ws`, { headers });
    ws.on("open", () =>
      ws.send(
        JSON.stringify({ type: "execute", request: { runtime: "python", code: "print(1)" } }),
      ),
    );
    const [closeCode] = (await once(ws, "close")) as [number];
    assert.equal(closeCode, 4503, "a WebSocket closes with 4000 + 503");

    symlinkSync(REAL_SOCKET, socket);
    let answer: Response | undefined;
    assert.ok(
      await eventually(async () => {
        answer = await fetch(`${served.url}/health`);
        return answer.status === 200;
      }),
      "/health answers 200 once Docker is back",
    );
    assert.deepEqual(await answer?.json(), { status: "ok", version: degraded.version });
    assert.equal(answer?.headers.get("retry-after"), null);

    const ran = await execute(served.url, "print(6 * 7)");
    assert.equal(ran.status, 200);
    assert.equal(((await ran.json()) as { stdout: string }).stdout, "42\n");
  });
});

describe("the log", () => {
  test("text: one line per request with method, path, status, duration and its id; X-Request-Id passes through", async () => {
    const served = await serve();
    const given = await fetch(`${served.url}/health`, { headers: { "X-Request-Id": "probe-7" } });
    assert.equal(given.status, 200);
    assert.equal(given.headers.get("x-request-id"), "probe-7", "echoed");
    const unauthorized = await fetch(`${served.url}/sessions`, {
      headers: { "X-Request-Id": "not a valid id!" },
    });
    assert.equal(unauthorized.status, 401);
    const made = unauthorized.headers.get("x-request-id") ?? "";
    assert.match(made, /^[0-9a-f]{8}-[0-9a-f]{4}-/, "an unusable id is replaced by a UUID");

    assert.ok(
      await eventually(() => served.stderr().includes(made)),
      `both requests logged: ${served.stderr()}`,
    );
    const lines = served.stderr().split("\n");
    assert.equal(
      lines.filter((l) => /^isol8 serve: GET \/health 200 [\d.]+ms \(request probe-7\)$/.test(l))
        .length,
      1,
      served.stderr(),
    );
    assert.ok(
      lines.some((l) =>
        new RegExp(`^isol8 serve: GET /sessions 401 [\\d.]+ms \\(request ${made}\\)$`).test(l),
      ),
      served.stderr(),
    );
  });

  test("json: every line is a pino entry; a request's has its fields; no key, code, stdin or secret is written", async () => {
    const served = await serve(cleanEnv(), ["--log-format", "json"]);
    const secret = "s3cr3t-value-never-logged";
    // A body carrying code, stdin and a secret, and a key in its header.
    const body = JSON.stringify({
      request: {
        runtime: "python",
        code: "print('code-marker-1'); input()",
        stdin: "stdin-marker-2\n",
      },
      options: { secrets: { TOKEN: secret } },
    });
    const answer = await fetch(`${served.url}/execute`, {
      method: "POST",
      headers: { ...headers, "X-Request-Id": "run-1" },
      body,
    });
    assert.equal(answer.status, 200, await answer.clone().text());
    assert.equal(((await answer.json()) as { stdout: string }).stdout, "code-marker-1\n");
    const bad = await fetch(`${served.url}/execute`, {
      method: "POST",
      headers: { ...headers, "X-Request-Id": "bad-1" },
      body: JSON.stringify({ request: { runtime: "cobol", code: `print('${secret}')` } }),
    });
    assert.equal(bad.status, 400);

    assert.ok(await eventually(() => served.stderr().includes('"bad-1"')), served.stderr());
    const entries = served
      .stderr()
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const run = entries.find((e) => e.requestId === "run-1");
    assert.ok(run, served.stderr());
    assert.equal(run.level, 30, "info");
    assert.equal(run.method, "POST");
    assert.equal(run.path, "/execute");
    assert.equal(run.status, 200);
    assert.equal(typeof run.durationMs, "number");
    assert.match(String(run.time), /^\d{4}-\d\d-\d\dT/);
    assert.equal(entries.find((e) => e.requestId === "bad-1")?.status, 400);

    for (const leak of [KEY, secret, "code-marker-1", "stdin-marker-2", "cobol"])
      assert.ok(!served.stderr().includes(leak), `${leak} is not in the log`);
  });
});

describe("the warm pool", () => {
  test("an engine keeps poolSize.clean ready containers per image while in use, and none once idle past engines.idleTimeoutMs", async () => {
    const served = await serve(cleanEnv(), [], {
      engines: { idleTimeoutMs: 8000, poolSize: { clean: 2, dirty: 1 } },
    });
    const pid = served.child.pid ?? 0;
    const ran = await execute(served.url, "print(1)");
    assert.equal(ran.status, 200);
    await ran.body?.cancel();
    // The run's container is wiped back into the pool, which refills to two ready ones.
    assert.ok(
      await eventually(async () => (await containersOf(pid)).length === 2, 20_000),
      `two ready containers: ${(await containersOf(pid)).length}`,
    );
    // Idle past idleTimeoutMs: the next sweep (every idleTimeoutMs here) stops the engine.
    assert.ok(
      await eventually(async () => (await containersOf(pid)).length === 0, 20_000),
      `no container left: ${(await containersOf(pid)).length}`,
    );
  });
});
