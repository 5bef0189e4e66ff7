// Long-lived sandboxes through a real server (POST /sandboxes ...) and
// RemoteIsol8: the same shape as a local sandbox, seen only by its tenant,
// bounded per tenant, and refusing bad input with the field's name.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RemoteError } from "../../src/client/remote-error.js";
import { InvalidOptionError } from "../../src/engine/errors.js";
import {
  ProcessNotFoundError,
  SandboxEndedError,
  SandboxNotFoundError,
} from "../../src/sandbox/errors.js";
import { eventually } from "../support/eventually.js";
import { startServer } from "../support/server.js";

const srv = await startServer({ sandboxes: { maxPerTenant: 2, maxTimeoutMs: 120_000 } });
const remote = srv.remote();

describe("a sandbox on the server, through RemoteIsol8", () => {
  test("commands in the foreground and background, reconnecting from another client, stdin, kill", async () => {
    await using sandbox = await remote.createSandbox({ metadata: { from: "remote" } });
    const result = await sandbox.commands.run("echo out; echo err >&2; id -u; exit 4");
    assert.deepEqual(
      { ...result, cpuMs: 0 },
      { exitCode: 4, stdout: "out\n100\n", stderr: "err\n", timedOut: false, cpuMs: 0 },
    );

    const heard: string[] = [];
    const echo = await sandbox.commands.run("echo ready; while read l; do echo got:$l; done", {
      background: true,
      stdin: true,
      onStdout: (data) => heard.push(data),
    });
    assert.ok(await eventually(() => heard.join("") === "ready\n"));
    // Another client of the tenant finds the sandbox by id and the process by pid.
    const other = await srv.remote().connectSandbox(sandbox.sandboxId);
    const replayed: string[] = [];
    const again = await other.commands.connect(echo.pid, { onStdout: (d) => replayed.push(d) });
    assert.deepEqual(
      (await other.commands.list()).map((p) => [p.pid, p.cmd]),
      [[echo.pid, "echo ready; while read l; do echo got:$l; done"]],
    );
    await again.sendStdin("one\n");
    await other.commands.closeStdin(echo.pid);
    assert.equal((await echo.wait()).stdout, "ready\ngot:one\n");
    // The other client reads a stream of its own: its end, not echo's, says it has heard everything.
    assert.equal((await again.wait()).stdout, "ready\ngot:one\n");
    assert.equal(replayed.join(""), "ready\ngot:one\n");
    assert.equal(heard.join(""), "ready\ngot:one\n");

    const sleeper = await sandbox.commands.run(["sleep", "60"], { background: true });
    assert.equal(await sandbox.commands.kill(sleeper.pid), true);
    assert.equal((await sleeper.wait()).signal, "SIGKILL");
    await assert.rejects(sandbox.commands.sendStdin(99_999, "x"), ProcessNotFoundError);
    assert.equal((await sandbox.getInfo()).metadata.from, "remote");
    const metrics = await sandbox.getMetrics();
    assert.ok(
      metrics.memUsed > 0 && metrics.memTotal === 512 * 1024 * 1024,
      JSON.stringify(metrics),
    );
    assert.ok(metrics.timestamp instanceof Date);
  });

  test("a terminal: input, resize, its exit code", async () => {
    await using sandbox = await remote.createSandbox();
    let screen = "";
    const terminal = await sandbox.pty.create({
      cols: 90,
      rows: 20,
      // The trap runs between commands (not during `read`): the loop gives it its moment.
      cmd: "trap 'echo resized:$(stty size); exit 3' WINCH; stty size; read -r line; echo got:$line; while :; do sleep 0.1; done",
      onData: (data) => {
        screen += Buffer.from(data).toString();
      },
    });
    assert.ok(await eventually(() => screen.includes("20 90")), screen);
    await sandbox.pty.sendInput(terminal.pid, "hi\r");
    assert.ok(await eventually(() => screen.includes("got:hi")), screen);
    await sandbox.pty.resize(terminal.pid, { cols: 100, rows: 40 });
    assert.ok(await eventually(() => screen.includes("resized:40 100")), screen);
    assert.equal((await terminal.wait()).exitCode, 3);
  });

  test("a client that leaves a process's output stream does not stop the process", async () => {
    await using sandbox = await remote.createSandbox();
    const ticker = await sandbox.commands.run("for i in $(seq 1 50); do echo $i; sleep 0.1; done", {
      background: true,
    });
    ticker.disconnect();
    const path = `/sandboxes/${sandbox.sandboxId}/processes/${ticker.pid}/output`;
    const abort = new AbortController();
    const response = await srv.call(path, { signal: abort.signal });
    assert.equal(response.status, 200);
    abort.abort();
    assert.equal((await sandbox.commands.list()).length, 1);
    const result = await (await sandbox.commands.connect(ticker.pid)).wait();
    assert.equal(result.stdout.split("\n").length, 51);
  });

  test("the lifetime: setTimeout, getInfo, kill, then SandboxEndedError; listSandboxes", async () => {
    const sandbox = await remote.createSandbox({ timeoutMs: 60_000 });
    await sandbox.setTimeout(90_000);
    const info = await sandbox.getInfo();
    assert.equal(info.state, "running");
    assert.ok(info.endAt.getTime() - Date.now() > 80_000);
    assert.ok((await remote.listSandboxes()).some((s) => s.sandboxId === sandbox.sandboxId));
    await sandbox.kill();
    assert.equal(await sandbox.isRunning(), false);
    assert.equal((await sandbox.getInfo()).endReason, "killed");
    await assert.rejects(sandbox.commands.run("true"), SandboxEndedError);
  });
});

describe("tenancy and limits", () => {
  test("another tenant's key cannot see, use or kill a sandbox", async () => {
    await using sandbox = await remote.createSandbox();
    const { key } = await srv.createKey("someone-else");
    const stranger = srv.remote(key);
    await assert.rejects(stranger.connectSandbox(sandbox.sandboxId), SandboxNotFoundError);
    assert.deepEqual(await stranger.listSandboxes(), []);
    for (const [method, path] of [
      ["DELETE", ""],
      ["POST", "/processes"],
      ["GET", "/processes"],
    ] as const) {
      const response = await srv.call(`/sandboxes/${sandbox.sandboxId}${path}`, {
        method,
        key,
        ...(method === "POST" ? { body: JSON.stringify({ cmd: "true" }) } : {}),
      });
      assert.equal(response.status, 404, `${method} ${path}`);
    }
    assert.equal(await sandbox.isRunning(), true);
  });

  test("a tenant's count, a sandbox's lifetime and its process limit are bounded by the server", async () => {
    const { key } = await srv.createKey("bounded");
    const client = srv.remote(key, { retry: { maxAttempts: 1 } });
    const first = await client.createSandbox();
    const second = await client.createSandbox();
    await assert.rejects(client.createSandbox(), (error: unknown) => {
      assert.ok(error instanceof RemoteError && error.status === 429, String(error));
      assert.match(error.message, /sandboxes.maxPerTenant 2/);
      return true;
    });
    await first.kill();
    const third = await client.createSandbox();
    await Promise.all([second.kill(), third.kill()]);
    await assert.rejects(
      client.createSandbox({ timeoutMs: 600_000 }),
      /sandboxes.maxTimeoutMs 120000/,
    );
    await assert.rejects(client.createSandbox({ pidsLimit: 5000 }), /sandboxes.maxPidsLimit 1024/);
  });

  test("bad input is a 400 naming the field, an unknown id a 404", async () => {
    await assert.rejects(remote.createSandbox({ timeoutMs: 5 }), (error: unknown) => {
      assert.ok(error instanceof InvalidOptionError, String(error));
      assert.match(error.message, /timeoutMs: 5 is not a whole number from 1000/);
      return true;
    });
    const bad = await srv.call("/sandboxes", {
      method: "POST",
      body: JSON.stringify({ env: [1] }),
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /^env: /);
    await using sandbox = await remote.createSandbox();
    await assert.rejects(sandbox.commands.run(""), /cmd: must not be empty/);
    const missing = await srv.call(`/sandboxes/${sandbox.sandboxId}/processes/424242/output`);
    assert.deepEqual(
      { status: missing.status, code: ((await missing.json()) as { code?: string }).code },
      { status: 404, code: "PROCESS_NOT_FOUND" },
    );
    const nothing = await srv.call("/sandboxes/no-such-id");
    assert.equal(nothing.status, 404);
  });
});
