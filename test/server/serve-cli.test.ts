// The built CLI as a user runs it: `isol8 serve` (URL, busy port, graceful
// SIGTERM), `isol8 run --host`, `isol8 session`, `isol8 login` / `logout`.
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import { CLI, cleanEnv, isol8, standInRunc } from "../support/cli.js";
import { containersOf } from "../support/containers.js";
import { eventually } from "../support/eventually.js";
import { readSse } from "../support/sse.js";

const KEY = "cli-master-key-0123456789";

before(() => {
  // The tests run the bundle; make sure it is the current source's.
  execFileSync(process.execPath, ["scripts/bundle-cli.mjs"], {
    cwd: new URL("../..", import.meta.url).pathname,
  });
});

interface Served {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/**
 * Starts `isol8 serve` and waits for the URL it prints. No `--bind`: where
 * it listens is its default (or what `args` or `extraConfig` say).
 */
async function serve(
  args: string[] = [],
  env: Record<string, string> = cleanEnv(),
  extraConfig: Record<string, unknown> = {},
): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), "isol8-serve-"));
  // Small pools: the machine has two cores and the suite starts many servers.
  const config = join(dir, "config.json");
  writeFileSync(
    config,
    JSON.stringify({ engines: { poolSize: { clean: 1, dirty: 1 } }, ...extraConfig }),
  );
  const child = spawn(
    process.execPath,
    [CLI, "serve", "--db", join(dir, "server.db"), "--config", config, ...args],
    { env, stdio: ["pipe", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  child.stderr.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then((code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  after(async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
  });
  return { child, url, stderr: () => err, exited };
}

/** Whether a TCP connection to host:port is accepted (false when refused). */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", (error: NodeJS.ErrnoException) =>
      error.code === "ECONNREFUSED" ? resolve(false) : reject(error),
    );
  });
}

/** An IPv4 address of this host other than loopback: where a server beyond loopback is reached. */
function ownOuterAddress(): string {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === "IPv4" && !a.internal)?.address;
  assert.ok(address, "this host has an IPv4 address beyond loopback");
  return address;
}

describe("isol8 serve", () => {
  test("refuses to start without a master key", async () => {
    const result = await isol8(["serve", "--port", "0"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^isol8: a master key is required/);
  });

  test("prints its URL; with --insecure-no-auth it warns loudly", async () => {
    const insecure = await serve(["--port", "0", "--insecure-no-auth"]);
    assert.match(insecure.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(insecure.stderr(), /WITHOUT AUTHENTICATION/);
    const health = await fetch(`${insecure.url}/sessions`);
    assert.equal(health.status, 200, "no key needed");
  });

  test("with a key it listens on 127.0.0.1 by default, silently", async () => {
    // A runc with every fix, so that this host's own runc cannot make it warn.
    const runc = standInRunc("runc version 1.3.3\ncommit: v1.3.3-0-gd842d771\n");
    const served = await serve(
      ["--port", "0", "--key", KEY],
      cleanEnv({ PATH: `${runc}:${process.env.PATH}` }),
    );
    assert.match(served.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.doesNotMatch(served.stderr(), /WARNING/);
    // Not only the printed URL: the socket is on loopback alone, so this
    // host's outer address refuses the port (the 0.0.0.0 test below shows
    // that address accepts a server bound beyond loopback).
    const port = Number(new URL(served.url).port);
    assert.equal(await accepts("127.0.0.1", port), true);
    assert.equal(await accepts(ownOuterAddress(), port), false);
  });

  test("--bind or the config's bind listens beyond loopback, with a warning", async () => {
    const flagged = await serve(["--port", "0", "--key", KEY, "--bind", "0.0.0.0"], cleanEnv(), {
      bind: "127.0.0.1",
    });
    assert.match(flagged.url, /^http:\/\/0\.0\.0\.0:\d+$/, "--bind wins over the config");
    assert.match(
      flagged.stderr(),
      /isol8 serve: WARNING: listening on 0\.0\.0\.0, beyond loopback: other machines can reach this server\n/,
    );
    const configured = await serve(["--port", "0", "--key", KEY], cleanEnv(), {
      bind: "0.0.0.0",
    });
    assert.match(configured.url, /^http:\/\/0\.0\.0\.0:\d+$/);
    assert.match(configured.stderr(), /WARNING: listening on 0\.0\.0\.0, beyond loopback/);
    const port = new URL(configured.url).port;
    assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
    assert.equal(await accepts(ownOuterAddress(), Number(port)), true);
    const open = await serve(["--port", "0", "--insecure-no-auth", "--bind", "0.0.0.0"]);
    assert.match(open.stderr(), /beyond loopback: .* without authentication, run code on it/);
  });

  test("a busy port: without a terminal it takes a free one and says which", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const busy = (blocker.address() as { port: number }).port;
    try {
      const served = await serve(["--key", KEY], cleanEnv({ ISOL8_PORT: String(busy) }));
      const port = Number(new URL(served.url).port);
      assert.notEqual(port, busy);
      assert.match(
        served.stderr(),
        new RegExp(`port ${busy} is in use; using port ${port} instead`),
      );
    } finally {
      blocker.close();
    }
  });

  test("SIGTERM during a run: the run finishes, exit 0, none of its containers remain", async () => {
    const served = await serve(["--port", "0", "--key", KEY]);
    const response = await fetch(`${served.url}/execute/stream`, {
      method: "POST",
      headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        request: {
          runtime: "python",
          code: "import time\nprint('started', flush=True)\ntime.sleep(1.5)\nprint('finished')",
        },
      }),
    });
    const reading = readSse(response);
    assert.ok(
      await eventually(async () => (await containersOf(served.child.pid ?? 0)).length > 0),
      "the run's container exists",
    );
    await new Promise((r) => setTimeout(r, 300));
    served.child.kill("SIGTERM");
    const { events } = await reading;
    const stdout = events.flatMap((e) => (e.type === "stdout" ? [e.data] : [])).join("");
    assert.equal(stdout, "started\nfinished\n");
    assert.equal(events.at(-1)?.type, "exit");
    assert.equal(await served.exited, 0);
    assert.match(served.stderr(), /shutting down/);
    assert.ok(
      await eventually(
        async () => (await containersOf(served.child.pid ?? 0)).length === 0,
        15_000,
      ),
      `containers of the server (pid ${served.child.pid}) remain`,
    );
  });
});

describe("a client that hangs up", () => {
  test("mid-run, mid-body or mid-stream: one line on the server's stderr, never a stack trace", async () => {
    const served = await serve(["--port", "0", "--key", KEY]);
    const { port } = new URL(served.url);
    const pid = served.child.pid ?? 0;
    const sleepy = JSON.stringify({
      request: { runtime: "python", code: "import time\nprint('up', flush=True)\ntime.sleep(30)" },
    });
    const head = (path: string, body: string, extra = "") =>
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${KEY}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n`;
    /** A raw connection that sends a whole request. */
    const send = (path: string, body: string) => {
      const socket = connect(Number(port), "127.0.0.1");
      socket.on("error", () => undefined);
      socket.write(head(path, body) + body);
      return socket;
    };
    /**
     * Sends a request's head, waits for the server's 100 Continue (it is
     * handling the request), sends all of the body but its last bytes, hangs up.
     */
    const cutShort = async (path: string, body: string) => {
      const socket = connect(Number(port), "127.0.0.1");
      socket.on("error", () => undefined);
      socket.write(head(path, body, "Expect: 100-continue\r\n"));
      await new Promise<void>((resolve) => socket.once("data", () => resolve()));
      await new Promise<void>((resolve) => socket.write(body.slice(0, -10), () => resolve()));
      socket.destroy();
    };
    const lines = (pattern: RegExp) =>
      served
        .stderr()
        .split("\n")
        .filter((l) => pattern.test(l));

    // While the run is going on (its container exists), the client goes away.
    const running = send("/execute", sleepy);
    assert.ok(await eventually(async () => (await containersOf(pid)).length > 0));
    running.destroy();
    assert.ok(await eventually(async () => lines(/POST \/execute: /).length === 1, 15_000));
    // Before its body is complete.
    await cutShort("/execute", sleepy);
    await cutShort(
      "/file",
      JSON.stringify({ sessionId: "s", path: "/sandbox/a", content: "AAAA" }),
    );
    // A stream once it has begun, and a WebSocket.
    const stream = send("/execute/stream", sleepy);
    await new Promise<void>((resolve) => stream.once("data", () => resolve()));
    stream.destroy();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/execute/ws`, {
      headers: { Authorization: `Bearer ${KEY}` },
    });
    ws.on("error", () => undefined);
    ws.on("open", () => ws.send(JSON.stringify({ type: "execute", ...JSON.parse(sleepy) })));
    await new Promise<void>((resolve) => ws.once("message", () => resolve()));
    ws.terminate();
    const metrics = async () =>
      (
        await fetch(`${served.url}/metrics`, { headers: { Authorization: `Bearer ${KEY}` } })
      ).text();
    assert.ok(
      await eventually(
        async () =>
          /^isol8_executions_total\{runtime="python",outcome="cancelled"\} 3$/m.test(
            await metrics(),
          ),
        20_000,
      ),
      `every abandoned run was cancelled:\n${await metrics()}`,
    );
    assert.match(await metrics(), /^isol8_executions_running 0$/m);
    assert.ok(
      await eventually(async () => lines(/POST \/file: /).length === 1, 5000),
      served.stderr(),
    );
    assert.deepEqual(lines(/POST \/execute: /), [
      "isol8 serve: POST /execute: the client went away before its answer",
      "isol8 serve: POST /execute: the client went away before its answer",
    ]);
    assert.deepEqual(lines(/POST \/file: /), [
      "isol8 serve: POST /file: the client went away before its answer",
    ]);
    assert.doesNotMatch(served.stderr(), /^\s+at /m, "no stack trace");
    assert.doesNotMatch(served.stderr(), /Error/);
    // The server is still fine.
    assert.equal((await fetch(`${served.url}/health`)).status, 200);
  });
});

describe("isol8 run --host", () => {
  test("runs through the server: streamed output, exit codes, --json, key from ISOL8_API_KEY", async () => {
    const { url } = await serve(["--port", "0", "--key", KEY]);
    const streamed = await isol8(["run", "--host", url, "--key", KEY, "-e", "print(6*7)"]);
    assert.equal(streamed.stdout, "42\n");
    assert.equal(streamed.code, 0);
    const failing = await isol8([
      "run",
      "--host",
      url,
      "--key",
      KEY,
      "-e",
      "import sys; sys.exit(3)",
    ]);
    assert.equal(failing.code, 3);
    const json = await isol8(["run", "--host", url, "--json", "--cmd", "echo hi"], {
      env: cleanEnv({ ISOL8_API_KEY: KEY }),
    });
    assert.equal(json.code, 0, json.stderr);
    const result = JSON.parse(json.stdout) as { stdout: string; exitCode: number; runtime: string };
    assert.deepEqual([result.stdout, result.exitCode, result.runtime], ["hi\n", 0, "bash"]);
    const piped = await isol8(["run", "--host", url, "--key", KEY, "--runtime", "node"], {
      input: "console.log('from stdin')",
    });
    assert.equal(piped.stdout, "from stdin\n");
  });

  test("refusals are one line with the server's words; local-only flags are refused", async () => {
    const { url } = await serve(["--port", "0", "--key", KEY]);
    const policy = await isol8(["run", "--host", url, "--key", KEY, "--net", "host", "-e", "1"]);
    assert.equal(policy.code, 125);
    assert.equal(
      policy.stderr,
      "isol8: server answered 403: options.network: host networking is not allowed by this server's policy\n",
    );
    const wrongKey = await isol8(["run", "--host", url, "--key", "nope", "-e", "1"]);
    assert.equal(wrongKey.stderr, "isol8: server answered 403: invalid API key\n");
    const noKey = await isol8(["run", "--host", url, "-e", "1"]);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /no key for/);
    const persist = await isol8(["run", "--host", url, "--key", KEY, "--persist", "-e", "1"]);
    assert.equal(persist.code, 2);
    assert.match(persist.stderr, /--persist is not available with --host/);
    const keyAlone = await isol8(["run", "--key", KEY, "-e", "1"]);
    assert.match(keyAlone.stderr, /--key and --session-id need --host/);
  });

  test("--session-id keeps state; `isol8 session list` and `stop` manage it", async () => {
    const { url } = await serve(["--port", "0", "--key", KEY]);
    const auth = ["--host", url, "--key", KEY];
    const write = await isol8([
      "run",
      ...auth,
      "--session-id",
      "cli-s",
      "-e",
      "open('/sandbox/n','w').write('7')",
    ]);
    assert.equal(write.code, 0, write.stderr);
    const read = await isol8([
      "run",
      ...auth,
      "--session-id",
      "cli-s",
      "-e",
      "print(open('/sandbox/n').read())",
    ]);
    assert.equal(read.stdout, "7\n");
    const list = await isol8(["session", "list", ...auth]);
    assert.match(list.stdout, /^cli-s\tidle\t\S+\n$/);
    const stop = await isol8(["session", "stop", "cli-s", ...auth]);
    assert.equal(stop.stdout, "stopped session cli-s\n");
    assert.equal((await isol8(["session", "list", ...auth])).stdout, "no sessions\n");
    const again = await isol8(["session", "stop", "cli-s", ...auth]);
    assert.equal(again.code, 125);
    assert.equal(again.stderr, 'isol8: server answered 404: no session "cli-s"\n');
  });

  test("isol8 login stores a token (0600) that run uses; logout forgets it", async () => {
    const { url } = await serve(["--port", "0", "--key", KEY]);
    const env = cleanEnv();
    const login = await isol8(["login", "--host", url, "--key", KEY], { env });
    assert.equal(login.code, 0, login.stderr);
    const file = join(env.HOME ?? "", ".isol8", "credentials.json");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const stored = JSON.parse(readFileSync(file, "utf8")) as Record<string, { token: string }>;
    assert.match(stored[url]?.token ?? "", /^isol8_/);
    assert.notEqual(stored[url]?.token, KEY, "a token of its own, not the master key");
    const ran = await isol8(["run", "--host", url, "-e", "print('with token')"], { env });
    assert.equal(ran.stdout, "with token\n", ran.stderr);
    const bad = await isol8(["login", "--host", url, "--key", "wrong"], { env: cleanEnv() });
    assert.equal(bad.stderr, "isol8: server answered 403: invalid API key\n");
    const logout = await isol8(["logout", "--host", url], { env });
    assert.equal(logout.stdout, "forgot 1 stored token(s)\n");
    const after = await isol8(["run", "--host", url, "-e", "1"], { env });
    assert.equal(after.code, 2);
  });
});
