// E2B's own SDK (the `e2b` package from npm, unmodified) against a real
// isol8 server: the two environment variables and an isol8 API key are
// all it is given. Each call here goes through E2B's control plane or its
// envd protocol (Connect, JSON encoding) to a real sandbox.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import {
  CommandExitError,
  FileNotFoundError,
  Sandbox,
  SandboxError,
  SandboxNotFoundError,
} from "e2b";
import { Filesystem } from "../../src/e2b/envd/gen/envd/filesystem_pb.js";
import { Process } from "../../src/e2b/envd/gen/envd/process_pb.js";
import { STREAMS_PER_SANDBOX } from "../../src/e2b/envd/limits.js";
import { eventually } from "../support/eventually.js";
import { startServer } from "../support/server.js";

/** Uploads past this are refused: room for the 12 MiB stream below, not for the attacks'. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;
const srv = await startServer({
  sandboxes: { maxPerTenant: 3, maxTimeoutMs: 600_000, maxFileBytes: MAX_FILE_BYTES },
});
const { key } = await srv.createKey("e2b-tenant");
const { key: otherKey } = await srv.createKey("another-tenant");
const saved = { ...process.env };

before(() => {
  // What a user sets to move E2B code onto their own isol8.
  process.env.E2B_API_URL = `${srv.url}/e2b`;
  process.env.E2B_SANDBOX_URL = `${srv.url}/e2b`;
  process.env.E2B_API_KEY = key;
});
after(() => {
  for (const name of ["E2B_API_URL", "E2B_SANDBOX_URL", "E2B_API_KEY"]) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

/** The headers that admit a request to a sandbox's envd (the SDK keeps the token it was given). */
function envdHeaders(sandbox: Sandbox): Record<string, string> {
  const { envdAccessToken } = sandbox as unknown as { envdAccessToken: string };
  return { "E2b-Sandbox-Id": sandbox.sandboxId, "X-Access-Token": envdAccessToken };
}

/** A Connect transport to a sandbox's envd, beside the SDK's (JSON or binary). */
function envdTransport(sandbox: Sandbox, useBinaryFormat: boolean) {
  return createConnectTransport({
    baseUrl: `${srv.url}/e2b`,
    useBinaryFormat,
    interceptors: [
      (next) => (request) => {
        for (const [name, value] of Object.entries(envdHeaders(sandbox)))
          request.header.set(name, value);
        return next(request);
      },
    ],
  });
}

/** A Connect client of a sandbox's envd process service. */
function rawClient(sandbox: Sandbox, useBinaryFormat: boolean) {
  return createClient(Process, envdTransport(sandbox, useBinaryFormat));
}

describe("E2B's SDK on isol8: sandboxes and commands", () => {
  test("create, run in the foreground (a failure too), info, list, metrics, kill", async () => {
    const sandbox = await Sandbox.create({ metadata: { purpose: "e2b-test" }, timeoutMs: 120_000 });
    const hi = await sandbox.commands.run("echo hi; id -u");
    assert.deepEqual([hi.exitCode, hi.stdout, hi.stderr], [0, "hi\n100\n", ""]);
    const failed = await sandbox.commands.run("echo oops >&2; exit 3").catch((e: unknown) => e);
    assert.ok(failed instanceof CommandExitError, String(failed));
    assert.deepEqual([failed.exitCode, failed.stderr], [3, "oops\n"]);

    const info = await sandbox.getInfo();
    assert.equal(info.sandboxId, sandbox.sandboxId);
    assert.equal(info.templateId, "base");
    assert.deepEqual(info.metadata, { purpose: "e2b-test" });
    assert.equal(info.state, "running");
    assert.ok(info.endAt.getTime() - info.startedAt.getTime() >= 119_000);
    const listed = await Sandbox.list({ query: { metadata: { purpose: "e2b-test" } } }).nextItems();
    assert.deepEqual(
      listed.map((s) => s.sandboxId),
      [sandbox.sandboxId],
    );
    const [metrics] = await sandbox.getMetrics();
    assert.ok(metrics && metrics.memTotal === 512 * 1024 * 1024, JSON.stringify(metrics));

    assert.equal(await sandbox.isRunning(), true);
    await sandbox.kill();
    assert.equal(await sandbox.isRunning(), false);
    await assert.rejects(Sandbox.getInfo(sandbox.sandboxId), SandboxNotFoundError);
    await assert.rejects(sandbox.commands.run("true"), SandboxError);
  });

  test("a background command: stdin, a second client connects to it, list, kill", async () => {
    const sandbox = await Sandbox.create();
    try {
      const heard: string[] = [];
      const echo = await sandbox.commands.run("echo ready; while read l; do echo got:$l; done", {
        background: true,
        stdin: true,
        onStdout: (data) => {
          heard.push(data);
        },
      });
      assert.ok(await eventually(() => heard.join("") === "ready\n"), heard.join(""));

      const other = await Sandbox.connect(sandbox.sandboxId);
      const listed = await other.commands.list();
      assert.deepEqual(
        listed.map((p) => [p.pid, p.cmd, p.args]),
        [[echo.pid, "/bin/bash", ["-l", "-c", "echo ready; while read l; do echo got:$l; done"]]],
      );
      const later: string[] = [];
      const again = await other.commands.connect(echo.pid, {
        onStdout: (d) => {
          later.push(d);
        },
      });
      await other.commands.sendStdin(echo.pid, "one\n");
      await sandbox.commands.closeStdin(echo.pid);
      const result = await echo.wait();
      assert.deepEqual([result.exitCode, result.stdout], [0, "ready\ngot:one\n"]);
      assert.equal((await again.wait()).exitCode, 0);
      assert.equal(later.join(""), "got:one\n");

      const sleeper = await sandbox.commands.run("sleep 60", { background: true });
      assert.equal(await sandbox.commands.kill(sleeper.pid), true);
      const killed = await sleeper.wait().catch((e: unknown) => e);
      assert.ok(killed instanceof CommandExitError, String(killed));
      assert.equal(killed.exitCode, -1);
      assert.deepEqual(await sandbox.commands.list(), []);
    } finally {
      await sandbox.kill();
    }
  });

  test("a terminal: input, resize, exit", async () => {
    const sandbox = await Sandbox.create();
    try {
      let screen = "";
      const terminal = await sandbox.pty.create({
        cols: 90,
        rows: 20,
        onData: (data) => {
          screen += Buffer.from(data).toString();
        },
      });
      await sandbox.pty.sendInput(terminal.pid, new TextEncoder().encode("stty size\r"));
      assert.ok(await eventually(() => screen.includes("20 90")), screen);
      await sandbox.pty.resize(terminal.pid, { cols: 100, rows: 40 });
      await sandbox.pty.sendInput(terminal.pid, new TextEncoder().encode("stty size; exit 5\r"));
      assert.ok(await eventually(() => screen.includes("40 100")), screen);
      const ended = await terminal.wait().catch((e: unknown) => e);
      assert.ok(ended instanceof CommandExitError, String(ended));
      assert.equal(ended.exitCode, 5);
    } finally {
      await sandbox.kill();
    }
  });

  test("tenants, tokens and what isol8 does not offer: refused clearly", async () => {
    const sandbox = await Sandbox.create();
    try {
      // Another tenant's key finds nothing.
      await assert.rejects(
        Sandbox.getInfo(sandbox.sandboxId, { apiKey: otherKey }),
        SandboxNotFoundError,
      );
      // envd without the sandbox's access token is not reached: 502, as for a sandbox that is gone.
      const bare = await fetch(`${srv.url}/e2b/process.Process/List`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "E2b-Sandbox-Id": sandbox.sandboxId,
          "E2b-Sandbox-Port": "49983",
        },
        body: "{}",
      });
      assert.equal(bare.status, 502);
      assert.match(((await bare.json()) as { message: string }).message, /not found/);
      // A wrong API key: E2B's authentication error.
      await assert.rejects(Sandbox.create({ apiKey: "not-a-key" }), /401|invalid|key/i);
      // An unknown template names the ones there are.
      await assert.rejects(Sandbox.create("no-such-template"), /no template "no-such-template"/);
      await assert.rejects(sandbox.betaPause(), /isol8 does not support pausing sandboxes yet/);
      assert.equal(await sandbox.isRunning(), true);
    } finally {
      await sandbox.kill();
    }
  });

  test("adversarial: streams past a sandbox's limit, bad starts are refused, and the sandbox goes on", async () => {
    const sandbox = await Sandbox.create();
    try {
      const client = rawClient(sandbox, false);
      const sleeper = await sandbox.commands.run("sleep 60", { background: true });
      const aborts = new AbortController();
      const open: Promise<unknown>[] = [];
      const started: number[] = [];
      for (let i = 0; i < STREAMS_PER_SANDBOX - 1; i++) {
        const stream = client.connect(
          { process: { selector: { case: "pid", value: sleeper.pid } } },
          { signal: aborts.signal },
        );
        const iterator = stream[Symbol.asyncIterator]();
        started.push((await iterator.next()).value?.event?.event.case === "start" ? 1 : 0);
        open.push(iterator.next().catch(() => undefined));
      }
      assert.equal(started.length, STREAMS_PER_SANDBOX - 1);
      // The sleeper's own handle holds the last place: one more is refused.
      await assert.rejects(
        (async () => {
          for await (const _ of client.connect({
            process: { selector: { case: "pid", value: sleeper.pid } },
          }))
            break;
        })(),
        /output streams open, its most/,
      );
      aborts.abort();
      await Promise.all(open);
      // The server hears of the closed streams a moment later; then their places are free.
      assert.ok(
        await eventually(async () =>
          sandbox.commands.run("true").then(
            () => true,
            () => false,
          ),
        ),
      );
      // Bad starts name what is wrong; nothing was started for them.
      await assert.rejects(sandbox.commands.run("true", { cwd: "relative/../../x\0" }), /cwd|path/);
      await assert.rejects(
        (async () => {
          for await (const _ of client.start({ process: { cmd: "" } })) break;
        })(),
        /process.cmd: a program to run is required/,
      );
      assert.equal((await sandbox.commands.run("echo still here")).stdout, "still here\n");
      await sandbox.commands.kill(sleeper.pid);
    } finally {
      await sandbox.kill();
    }
  });

  test("adversarial: uploads that hang up, gzip that never ends, racing watchers, long tags, unknown routes", async () => {
    const sandbox = await Sandbox.create();
    try {
      const upload = (
        body: Uint8Array | ReadableStream<Uint8Array>,
        headers: Record<string, string> = {},
        signal?: AbortSignal,
      ) =>
        fetch(`${srv.url}/e2b/files?path=/home/user/up.bin`, {
          method: "POST",
          headers: {
            ...envdHeaders(sandbox),
            "Content-Type": "application/octet-stream",
            ...headers,
          },
          body,
          signal,
          duplex: "half",
        } as RequestInit);
      // A gzip'd upload whose client hangs up halfway: the server lives on.
      const hangUp = new AbortController();
      const half = gzipSync(randomBytes(256 * 1024)).subarray(0, 64 * 1024);
      const cut = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(half);
          setTimeout(() => hangUp.abort(), 200);
        },
      });
      await assert.rejects(upload(cut, { "Content-Encoding": "gzip" }, hangUp.signal));
      // Empty gzip members unpack to nothing: counted as they come, they still meet the limit.
      const empty = gzipSync(Buffer.alloc(0));
      const members = Buffer.concat(
        Array.from({ length: Math.ceil((MAX_FILE_BYTES + 1) / empty.length) }, () => empty),
      );
      const endless = await upload(members, { "Content-Encoding": "gzip" });
      assert.equal(endless.status, 413);
      assert.ok((await srv.call("/health")).ok);

      // Watchers created at once cannot pass their limit together.
      const files = createClient(Filesystem, envdTransport(sandbox, false));
      const made = await Promise.allSettled(
        Array.from({ length: 40 }, () => files.createWatcher({ path: "/home/user" })),
      );
      assert.equal(made.filter((m) => m.status === "fulfilled").length, 16);
      for (const m of made)
        if (m.status === "fulfilled") await files.removeWatcher({ watcherId: m.value.watcherId });

      await assert.rejects(
        (async () => {
          for await (const _ of rawClient(sandbox, false).start({
            process: { cmd: "true" },
            tag: "t".repeat(300),
          }))
            break;
        })(),
        /tag: longer than 256 characters/,
      );
      const unknown = await fetch(`${srv.url}/e2b/no-such-route`, {
        headers: { "X-API-Key": key },
      });
      assert.equal(unknown.status, 404);
      assert.deepEqual(await unknown.json(), {
        code: 404,
        message: "no route GET /e2b/no-such-route",
      });
      assert.equal((await sandbox.commands.run("echo alive")).stdout, "alive\n");
    } finally {
      await sandbox.kill();
    }
  });

  test("envd in Connect's binary encoding as well as JSON (what other SDKs send)", async () => {
    const sandbox = await Sandbox.create();
    try {
      const client = rawClient(sandbox, true);
      let stdout = "";
      let exitCode: number | undefined;
      for await (const { event } of client.start({
        process: { cmd: "/bin/sh", args: ["-c", "echo binary; exit 7"] },
      })) {
        const e = event?.event;
        if (e?.case === "data" && e.value.output.case === "stdout")
          stdout += Buffer.from(e.value.output.value).toString();
        if (e?.case === "end") exitCode = e.value.exitCode;
      }
      assert.deepEqual([stdout, exitCode], ["binary\n", 7]);
      assert.deepEqual((await client.list({})).processes, []);
    } finally {
      await sandbox.kill();
    }
  });
});

describe("E2B's SDK on isol8: files", () => {
  test("write and read text and bytes, several at once, in /home/user (the sandbox's /sandbox) and /tmp", async () => {
    const sandbox = await Sandbox.create();
    try {
      const written = await sandbox.files.write("notes/hello.txt", "hi from e2b\n");
      assert.deepEqual(
        { name: written.name, path: written.path },
        { name: "hello.txt", path: "/home/user/notes/hello.txt" },
      );
      assert.equal(await sandbox.files.read("/home/user/notes/hello.txt"), "hi from e2b\n");
      // A command sees the same file, through /home/user and through /sandbox.
      const seen = await sandbox.commands.run(
        "cat /home/user/notes/hello.txt /sandbox/notes/hello.txt; pwd",
      );
      assert.equal(seen.stdout, "hi from e2b\nhi from e2b\n/sandbox\n");

      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await sandbox.files.write("/tmp/all-bytes.bin", bytes.buffer);
      assert.deepEqual(await sandbox.files.read("/tmp/all-bytes.bin", { format: "bytes" }), bytes);
      const many = await sandbox.files.write([
        { path: "/home/user/a.txt", data: "A" },
        { path: "/home/user/b.txt", data: "B" },
      ]);
      assert.deepEqual(
        many.map((e) => e.path),
        ["/home/user/a.txt", "/home/user/b.txt"],
      );
      // Streamed, as the SDK sends a stream: the raw body, not a form, so
      // past the server's 10 MiB limit for a request body.
      const big = Buffer.alloc(12 * 1024 * 1024, "z");
      await sandbox.files.write("/home/user/big.txt", new Blob([big]).stream());
      assert.equal((await sandbox.files.getInfo("/home/user/big.txt")).size, big.length);
    } finally {
      await sandbox.kill();
    }
  });

  test("list, exists, info, make a folder, rename, remove, watch; paths that lead out are refused", async () => {
    const sandbox = await Sandbox.create();
    try {
      assert.equal(await sandbox.files.makeDir("/home/user/dir"), true);
      assert.equal(await sandbox.files.makeDir("/home/user/dir"), false);
      await sandbox.files.write("/home/user/dir/one.txt", "1");
      const info = await sandbox.files.getInfo("/home/user/dir/one.txt");
      assert.deepEqual([info.type, info.size, info.path], ["file", 1, "/home/user/dir/one.txt"]);
      assert.equal(await sandbox.files.exists("/home/user/dir/none"), false);
      const moved = await sandbox.files.rename("/home/user/dir/one.txt", "/home/user/dir/two.txt");
      assert.equal(moved.path, "/home/user/dir/two.txt");
      assert.deepEqual(
        (await sandbox.files.list("/home/user/dir")).map((e) => [e.name, e.type]),
        [["two.txt", "file"]],
      );

      const events: string[] = [];
      const watch = await sandbox.files.watchDir("/home/user/dir", (event) => {
        events.push(`${event.type} ${event.name}`);
      });
      await sandbox.commands.run("echo x > /home/user/dir/three.txt");
      assert.ok(await eventually(() => events.includes("create three.txt")), events.join(", "));
      await watch.stop();

      await sandbox.files.remove("/home/user/dir");
      assert.equal(await sandbox.files.exists("/home/user/dir"), false);
      await assert.rejects(sandbox.files.read("/home/user/missing.txt"), FileNotFoundError);
      await assert.rejects(sandbox.files.read("/etc/passwd"), /refused|outside|permission/i);
      await assert.rejects(sandbox.files.write("/etc/evil", "x"), /refused|outside|permission/i);
      await assert.rejects(
        sandbox.files.write("/home/user/x", "x", { user: "root" }),
        /isol8 runs everything in a sandbox as its unprivileged user/,
      );
      await assert.rejects(
        sandbox.commands.run("id", { user: "root" }),
        /isol8 runs everything in a sandbox as its unprivileged user/,
      );
    } finally {
      await sandbox.kill();
    }
  });
});
