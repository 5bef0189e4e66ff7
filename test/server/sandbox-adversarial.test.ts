// Long-lived sandboxes through a real server, under attack by its clients:
// a burst of creates past the tenant's limit, another tenant that knows (or
// guesses) a sandbox's id and its processes' pids, a reader of a process's
// output that never reads, and a client reconnecting to a stream hundreds of
// times. Each must fail safely, and the server and the victim's sandbox must
// serve the next request.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { SandboxProcess } from "../../src/sandbox/process.js";
import { DEFAULT_TENANT } from "../../src/server/auth/authenticator.js";
import { eventually } from "../support/eventually.js";
import { MASTER, startServer } from "../support/server.js";

const MiB = 1024 * 1024;
const srv = await startServer({ sandboxes: { maxPerTenant: 2, maxTimeoutMs: 120_000 } });
const remote = srv.remote();

/** The server's own record of a process (for what no route shows: who listens to it). */
function serverProcess(tenantId: string, sandboxId: string, pid: number): SandboxProcess {
  const process = srv.server.context.sandboxes.get(tenantId, sandboxId).table.get(pid);
  assert.ok(process, `no process ${pid}`);
  return process;
}

/** How many readers the server has subscribed to a process's output. */
function listeners(process: SandboxProcess): number {
  return (process as unknown as { listeners: Set<unknown> }).listeners.size;
}

/** What this process's objects and buffers hold once its garbage is collected. */
function retained(): number {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

describe("a tenant's clients against the server", () => {
  test("a burst of creates past the tenant's limit: exactly the limit is made, the rest 429, and other tenants are untouched", async () => {
    const { key } = await srv.createKey("bursting");
    const burst = await Promise.all(
      Array.from({ length: 8 }, () =>
        srv.call("/sandboxes", { method: "POST", key, body: JSON.stringify({}) }),
      ),
    );
    const statuses = burst.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 201, 429, 429, 429, 429, 429, 429]);
    for (const response of burst.filter((r) => r.status === 429))
      assert.match(
        ((await response.json()) as { error: string }).error,
        /sandboxes.maxPerTenant 2/,
      );
    const made = await Promise.all(
      burst
        .filter((r) => r.status === 201)
        .map(async (r) => (await r.json()) as { sandboxId: string }),
    );
    // Another tenant still gets its own.
    await using theirs = await remote.createSandbox();
    assert.equal((await theirs.commands.run("echo mine")).stdout, "mine\n");
    for (const { sandboxId } of made)
      assert.equal(
        (await srv.call(`/sandboxes/${sandboxId}`, { method: "DELETE", key })).status,
        200,
      );
    const after = await srv.call("/sandboxes", { method: "POST", key, body: "{}" });
    assert.equal(after.status, 201);
    const { sandboxId } = (await after.json()) as { sandboxId: string };
    await srv.call(`/sandboxes/${sandboxId}`, { method: "DELETE", key });
  });

  test("another tenant with a sandbox's id and a process's pid gets the same 404 as for ids that do not exist, on every route", async () => {
    await using sandbox = await remote.createSandbox();
    const server = await sandbox.commands.run("while read l; do echo got:$l; done", {
      background: true,
      stdin: true,
    });
    const { key } = await srv.createKey("stranger");
    const routes = (id: string, pid: number) =>
      [
        ["GET", `/sandboxes/${id}`],
        ["DELETE", `/sandboxes/${id}`],
        ["GET", `/sandboxes/${id}/metrics`],
        ["POST", `/sandboxes/${id}/timeout`, { timeoutMs: 1000 }],
        ["POST", `/sandboxes/${id}/processes`, { cmd: "touch /sandbox/pwned" }],
        ["GET", `/sandboxes/${id}/processes`],
        ["GET", `/sandboxes/${id}/processes/${pid}/output`],
        ["POST", `/sandboxes/${id}/processes/${pid}/stdin`, { data: "pwned\n", eof: true }],
        ["POST", `/sandboxes/${id}/processes/${pid}/signal`, { signal: "SIGKILL" }],
        ["POST", `/sandboxes/${id}/processes/${pid}/resize`, { cols: 10, rows: 10 }],
        ["DELETE", `/sandboxes/${id}/processes/${pid}`],
      ] as const;
    const answers = async (id: string, pid: number) =>
      Promise.all(
        routes(id, pid).map(async ([method, path, body]) => {
          const response = await srv.call(path, {
            method,
            key,
            ...(body ? { body: JSON.stringify(body) } : {}),
          });
          const { error, code } = (await response.json()) as { error: string; code: string };
          // The id is in the message; without it, nothing may tell a real one from a guess.
          return `${method} ${response.status} ${code} ${error.replace(id, "ID")}`;
        }),
      );
    const real = await answers(sandbox.sandboxId, server.pid);
    const guessed = await answers("5b1e5e3c-0f5e-4a55-9a2e-6f1c7a1d2b3c", server.pid);
    assert.deepEqual(real, guessed);
    for (const line of real) assert.match(line, / 404 SANDBOX_NOT_FOUND /);
    // The victim's sandbox and process are as they were.
    assert.equal(await sandbox.isRunning(), true);
    assert.equal(server.exitCode, undefined);
    assert.equal(server.stdout, "");
    assert.equal((await sandbox.commands.run("ls /sandbox")).stdout, "");
    await server.sendStdin("hello\n");
    await server.closeStdin();
    assert.equal((await server.wait()).stdout, "got:hello\n");
  });

  test("a reader that never reads a flooding process's output costs the server a bounded backlog, then is told it fell behind", async () => {
    await using sandbox = await remote.createSandbox();
    // 128 MiB, written as fast as the sandbox can: far more than the server keeps for one reader.
    // Started by a plain request, so that no other client reads it.
    const started = await srv.call(`/sandboxes/${sandbox.sandboxId}/processes`, {
      method: "POST",
      body: JSON.stringify({ cmd: "sleep 1; head -c 134217728 /dev/zero | tr '\\0' 'z'" }),
    });
    const { pid } = (await started.json()) as { pid: number };
    const before = retained();
    // A raw socket that sends its request and then never reads a byte.
    const socket = connect(Number(new URL(srv.url).port), "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    socket.pause();
    socket.write(
      `GET /sandboxes/${sandbox.sandboxId}/processes/${pid}/output HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${MASTER}\r\n\r\n`,
    );
    let peak = 0;
    const running = async () => (await sandbox.commands.list()).some((p) => p.pid === pid);
    // Meanwhile the server answers, and so does the sandbox.
    while (await running()) {
      assert.equal((await sandbox.commands.run("echo alive")).stdout, "alive\n");
      peak = Math.max(peak, retained() - before);
    }
    peak = Math.max(peak, retained() - before);
    // Its 2 MiB backlog (as base64 text), the process's kept output and the socket's buffers.
    assert.ok(peak < 48 * MiB, `the server held ${(peak / MiB).toFixed(1)} MiB more`);
    // Read at last: the stream ends with the error that says it fell behind.
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk.length > 4096 ? chunk.slice(-4096) : chunk;
      if (text.length > 65536) text = text.slice(-8192);
    });
    socket.resume();
    assert.ok(
      await eventually(() => text.includes("fell more than 2097152 bytes behind"), 60_000),
      text.slice(-500),
    );
    socket.destroy();
    // A new reader gets what is kept, then the result.
    const again = await sandbox.commands.connect(pid);
    assert.equal((await again.wait()).exitCode, 0);
    assert.ok(again.stdout.endsWith("zzzz"));
  });

  test("a remote handle on a process faster than it reads still gets the process's result", async () => {
    await using sandbox = await remote.createSandbox();
    let heard = 0;
    const flood = await sandbox.commands.run(
      "head -c 67108864 /dev/zero | tr '\\0' 'y'; echo done >&2",
      {
        background: true,
        // A slow consumer: each piece costs the client's event loop a moment.
        onStdout: (data) => {
          heard += data.length;
          const until = Date.now() + 2;
          while (Date.now() < until);
        },
      },
    );
    const result = await flood.wait();
    assert.deepEqual(
      { exitCode: result.exitCode, stderr: result.stderr },
      { exitCode: 0, stderr: "done\n" },
    );
    assert.ok(heard > 0);
  });

  test("open output streams per sandbox and waiting stdin writes per process are bounded (429), and freed again", async () => {
    await using sandbox = await remote.createSandbox();
    const sleeper = await sandbox.commands.run(["sleep", "120"], { background: true, stdin: true });
    sleeper.disconnect();
    const path = `/sandboxes/${sandbox.sandboxId}/processes/${sleeper.pid}`;
    const streams: AbortController[] = [];
    // Held until the end: a response nobody holds can be collected, and its
    // connection closed under the test, freeing its place early.
    const held: Response[] = [];
    let status = 200;
    while (status === 200 && streams.length < 40) {
      const abort = new AbortController();
      const response = await srv.call(`${path}/output`, { signal: abort.signal });
      held.push(response);
      status = response.status;
      if (status === 200) streams.push(abort);
      else
        assert.match(
          ((await response.json()) as { error: string }).error,
          /output streams open, its most \(16\)/,
        );
    }
    assert.deepEqual([status, streams.length], [429, 16]);
    for (const abort of streams) abort.abort();
    held.length = 0;
    assert.ok(
      await eventually(async () => {
        const abort = new AbortController();
        const response = await srv.call(`${path}/output`, { signal: abort.signal });
        abort.abort();
        return response.status === 200;
      }),
    );

    // sleep reads nothing: each 1 MiB write waits past the 256 KiB window.
    const body = JSON.stringify({ data: "x".repeat(MiB) });
    const writes = Array.from({ length: 4 }, () =>
      srv.call(`${path}/stdin`, { method: "POST", body }),
    );
    // A probe the server takes in before the big writes have arrived waits
    // with them (and counts among them): it is given up on after a second, and
    // the next probe sent. Once four wait, one more is refused.
    assert.ok(
      await eventually(async () => {
        const fifth = await srv
          .call(`${path}/stdin`, {
            method: "POST",
            body: JSON.stringify({ data: "y" }),
            signal: AbortSignal.timeout(1000),
          })
          .catch(() => undefined);
        return fifth?.status === 429;
      }, 30_000),
    );
    await sandbox.commands.kill(sleeper.pid);
    // Each big write ended one of the known ways: written, its process gone, or (when
    // probes took the places first) refused like the fifth.
    for (const response of await Promise.all(writes))
      assert.ok([200, 404, 409, 429].includes(response.status), String(response.status));
  });

  test("hundreds of reconnects to a process's output leave no reader behind, and the stream still works", async () => {
    await using sandbox = await remote.createSandbox();
    const ticker = await sandbox.commands.run("while :; do echo tick; sleep 0.05; done", {
      background: true,
    });
    // Its handle's own stream goes too: every reader left is one of the reconnects.
    ticker.disconnect();
    const process = serverProcess(DEFAULT_TENANT, sandbox.sandboxId, ticker.pid);
    assert.ok(await eventually(() => listeners(process) === 0));
    for (let round = 0; round < 300; round++) {
      const aborting = new AbortController();
      const response = await srv.call(
        `/sandboxes/${sandbox.sandboxId}/processes/${ticker.pid}/output`,
        { signal: aborting.signal },
      );
      assert.equal(response.status, 200);
      // Half of them read a first event, half go away at once.
      if (round % 2 === 0) await response.body?.getReader().read();
      aborting.abort();
    }
    assert.ok(await eventually(() => listeners(process) === 0), `${listeners(process)} left`);
    const heard: string[] = [];
    const reader = await sandbox.commands.connect(ticker.pid, { onStdout: (d) => heard.push(d) });
    assert.ok(await eventually(() => heard.join("").includes("tick")));
    reader.disconnect();
    assert.equal(await sandbox.commands.kill(ticker.pid), true);
  });
});
