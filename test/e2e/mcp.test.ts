import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { ensureDataImage } from "../fixtures/data-image.js";
import { type PackageIndex, startPythonIndex } from "../fixtures/package-index.js";
import { CLI, cleanEnv, envTrusting } from "../support/cli.js";
import { containersOf } from "../support/containers.js";
import { eventually } from "../support/eventually.js";

const TOOLS = [
  "close_context",
  "close_sandbox",
  "close_session",
  "create_context",
  "kill_process",
  "list_files",
  "list_processes",
  "open_session",
  "read_file",
  "read_output",
  "run_code",
  "run_command",
  "run_in_session",
  "start_process",
  "start_sandbox",
  "write_file",
];

/** A working directory holding `config` as its isol8.config.json (none when undefined). */
function workdir(config?: object): string {
  const dir = mkdtempSync(join(tmpdir(), "isol8-mcp-"));
  if (config) writeFileSync(join(dir, "isol8.config.json"), JSON.stringify(config));
  return dir;
}

interface Connected {
  client: Client;
  pid: number;
  stderr: () => string;
  close(): Promise<void>;
}

/** `isol8 mcp` on stdio, spawned by the SDK's own client transport, with a clean env and HOME (that trusts `config`). */
async function stdio(config?: object, flags: string[] = []): Promise<Connected> {
  const cwd = workdir(config);
  // The user trusts the folder's file: some of these widen what isol8 allows.
  const env = config ? await envTrusting(cwd) : cleanEnv();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "mcp", ...flags],
    env,
    cwd,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: "isol8-test", version: "1.0.0" });
  await client.connect(transport);
  return {
    client,
    pid: transport.pid ?? 0,
    stderr: () => stderr,
    close: () => client.close(),
  };
}

async function call(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

function textOf(result: CallToolResult): string {
  return result.content
    .filter((c) => c.type === "text")
    .map((c) => (c as { text: string }).text)
    .join("\n");
}

/** A tool result that succeeded; its text. */
async function ok(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const result = await call(client, name, args);
  assert.notEqual(result.isError, true, `${name} failed: ${textOf(result)}`);
  return textOf(result);
}

/** A tool error of one line; its text. */
async function refused(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<string> {
  const result = await call(client, name, args);
  assert.equal(result.isError, true, `${name} should have failed: ${textOf(result)}`);
  return textOf(result);
}

async function openSession(client: Client, runtime: string): Promise<string> {
  const opened = await ok(client, "open_session", { runtime });
  const id = /session (\S+) opened/.exec(opened)?.[1];
  assert.ok(id, opened);
  return id;
}

describe("isol8 mcp over stdio", () => {
  let mcp: Connected;
  before(async () => {
    mcp = await stdio();
  });
  after(async () => {
    await mcp.close();
  });

  test("a server in the background: started, read later, tested beside it, listed, killed", async () => {
    const started = await ok(mcp.client, "start_sandbox", { runtime: "python" });
    const sandboxId = /sandbox (\S+) started/.exec(started)?.[1];
    assert.ok(sandboxId, started);
    const launched = await ok(mcp.client, "start_process", {
      sandboxId,
      command: "python3 -u -m http.server 8000 --bind 127.0.0.1",
    });
    const pid = Number(/process (\d+) started/.exec(launched)?.[1]);
    assert.ok(pid > 0, launched);
    let heard = "";
    assert.ok(
      await eventually(async () => {
        heard += await ok(mcp.client, "read_output", { sandboxId, pid, waitMs: 1000 });
        return /Serving HTTP on 127.0.0.1 port 8000/.test(heard);
      }, 20_000),
      heard,
    );
    assert.match(heard, /process \d+ is running/);
    const tested = await ok(mcp.client, "run_command", {
      sandboxId,
      command:
        "python3 -c \"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/').status)\"",
    });
    assert.match(tested, /^exit code: 0\n--- stdout ---\n200$/);
    assert.match(
      await ok(mcp.client, "read_output", { sandboxId, pid, waitMs: 5000 }),
      /"GET \/ HTTP\/1.1" 200/,
    );
    assert.match(
      await ok(mcp.client, "list_processes", { sandboxId }),
      new RegExp(`^${pid}\t.*http.server`),
    );
    assert.equal(await ok(mcp.client, "kill_process", { sandboxId, pid }), `process ${pid} killed`);
    assert.match(
      await ok(mcp.client, "read_output", { sandboxId, pid }),
      /exited: code 137 \(SIGKILL\)/,
    );
    assert.match(
      await refused(mcp.client, "read_output", { sandboxId, pid: 99999 }),
      /no process 99999/,
    );
    await ok(mcp.client, "close_sandbox", { sandboxId });
    assert.match(
      await refused(mcp.client, "run_command", { sandboxId, command: "true" }),
      /no running sandbox/,
    );
  });

  test("lists the tools; descriptions state the configured limits; schemas are strict", async () => {
    const { tools } = await mcp.client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);
    const run = tools.find((t) => t.name === "run_code");
    assert.ok(run?.description);
    assert.match(run.description, /Network: none - the sandbox has no network access/);
    assert.match(run.description, /Timeout: 30000 ms per call/);
    assert.match(run.description, /Memory: 512m/);
    assert.match(run.description, /Installing packages is disabled/);
    assert.equal(run.inputSchema.additionalProperties, false);
    assert.deepEqual(run.inputSchema.required?.sort(), ["code", "runtime"]);
    assert.equal(mcp.stderr().includes("serving on stdio"), true, mcp.stderr());
  });

  test("run_code runs python and node; stdout, stderr, stdin and the exit code come back", async () => {
    const py = await ok(mcp.client, "run_code", {
      runtime: "python",
      code: "import sys\nprint(6 * 7)\nprint(sys.stdin.read().upper(), file=sys.stderr)\nsys.exit(3)",
      stdin: "from stdin",
    });
    assert.equal(py, "exit code: 3\n--- stdout ---\n42\n--- stderr ---\nFROM STDIN");
    const node = await ok(mcp.client, "run_code", {
      runtime: "node",
      code: "console.log(typeof process.version, [1, 2, 3].map((n) => n * 2).join(','))",
    });
    assert.equal(node, "exit code: 0\n--- stdout ---\nstring 2,4,6");
  });

  test("a timeout is a notice in the result, not a tool error", async () => {
    const text = await ok(mcp.client, "run_code", {
      runtime: "python",
      code: "print('started', flush=True)\nwhile True: pass",
      timeoutMs: 1000,
    });
    assert.match(text, /^exit code: 124\n/, "124, as `isol8 run` exits");
    assert.match(text, /--- stdout ---\nstarted\n/);
    assert.match(
      text,
      /--- notices ---\ntimed out after 1000 ms; every process of the run was killed/,
    );
  });

  test("installs and network choices the config does not allow are refused", async () => {
    const install = await refused(mcp.client, "run_code", {
      runtime: "python",
      code: "import requests",
      packages: ["requests"],
    });
    assert.match(install, /^packages: installing packages is disabled on this server/);
    assert.equal(install.split("\n").length, 1);
    const network = await refused(mcp.client, "run_code", {
      runtime: "python",
      code: "print(1)",
      network: "host",
    });
    assert.match(network, /network/);
    const offline = await ok(mcp.client, "run_code", {
      runtime: "python",
      code: "import socket\ntry:\n  socket.create_connection(('1.1.1.1', 53), timeout=2)\n  print('connected')\nexcept OSError as e:\n  print('no network')",
    });
    assert.match(offline, /no network/);
  });

  test("a session keeps files: write_file, run_in_session, read_file, list_files, close_session", async () => {
    const id = await openSession(mcp.client, "python");
    assert.match(
      await ok(mcp.client, "write_file", {
        sessionId: id,
        path: "data/in.txt",
        content: "hello\nworld\n",
      }),
      /^wrote 12 bytes to \/sandbox\/data\/in\.txt$/,
    );
    const run = await ok(mcp.client, "run_in_session", {
      sessionId: id,
      code: "lines = open('data/in.txt').read().split()\nopen('/sandbox/out.txt', 'w').write('|'.join(lines))\nprint(len(lines))",
    });
    assert.equal(run, "exit code: 0\n--- stdout ---\n2");
    assert.equal(
      await ok(mcp.client, "read_file", { sessionId: id, path: "/sandbox/out.txt" }),
      "hello|world",
    );

    // Binary in, an image back as image content, other bytes as base64.
    const png = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.from([0, 1, 2])]);
    await ok(mcp.client, "write_file", {
      sessionId: id,
      path: "plot.png",
      contentBase64: png.toString("base64"),
    });
    const image = await call(mcp.client, "read_file", { sessionId: id, path: "plot.png" });
    const part = image.content.find((c) => c.type === "image") as
      | { data: string; mimeType: string }
      | undefined;
    assert.equal(part?.mimeType, "image/png");
    assert.equal(part?.data, png.toString("base64"));
    await ok(mcp.client, "write_file", {
      sessionId: id,
      path: "raw.bin",
      contentBase64: "AAEC/w==",
    });
    assert.match(
      await ok(mcp.client, "read_file", { sessionId: id, path: "raw.bin" }),
      /binary, 4 bytes, base64:\nAAEC\/w==$/,
    );

    const listing = await ok(mcp.client, "list_files", { sessionId: id });
    assert.match(listing, /^\/sandbox \(\d+ entries\):/);
    for (const line of [
      /^dir {2,}- .* data\/$/m,
      /^file +12 .* data\/in\.txt$/m,
      /^file +11 .* out\.txt$/m,
    ])
      assert.match(listing, line);
    assert.match(await ok(mcp.client, "list_files", { sessionId: id, path: "data" }), /in\.txt/);

    // bash runs shell commands in the session's sandbox; another runtime needs its own session.
    assert.match(
      await ok(mcp.client, "run_in_session", {
        sessionId: id,
        runtime: "bash",
        code: "cat data/in.txt | wc -l",
      }),
      /--- stdout ---\n2$/,
    );
    assert.match(
      await refused(mcp.client, "run_in_session", { sessionId: id, runtime: "node", code: "1" }),
      /runs python; open another session for node/,
    );
    assert.match(
      await refused(mcp.client, "read_file", { sessionId: id, path: "/etc/passwd" }),
      /outside \/sandbox/,
    );
    assert.match(
      await refused(mcp.client, "read_file", { sessionId: id, path: "missing.txt" }),
      /no such file/i,
    );
    assert.match(
      await refused(mcp.client, "list_files", { sessionId: id, path: "nowhere" }),
      /no such file or directory/,
    );

    assert.match(await ok(mcp.client, "close_session", { sessionId: id }), /closed/);
    assert.match(
      await refused(mcp.client, "run_in_session", { sessionId: id, code: "print(1)" }),
      /^no open session/,
    );
  });

  test("code contexts: cells keep their state and return the last expression's value", async () => {
    const id = await openSession(mcp.client, "python");
    const created = await ok(mcp.client, "create_context", { sessionId: id, runtime: "python" });
    const py = /context (\S+) created \(python\)/.exec(created)?.[1];
    assert.ok(py, created);
    assert.equal(
      await ok(mcp.client, "run_in_session", { sessionId: id, contextId: py, code: "x = 21" }),
      "exit code: 0\n(no output)",
    );
    assert.equal(
      await ok(mcp.client, "run_in_session", {
        sessionId: id,
        contextId: py,
        code: "print('cell 2')\nx * 2",
      }),
      "exit code: 0\n--- stdout ---\ncell 2\n--- value ---\n42",
    );
    const timedOut = await ok(mcp.client, "run_in_session", {
      sessionId: id,
      contextId: py,
      code: "import time\ntime.sleep(20)",
      timeoutMs: 1000,
    });
    assert.match(timedOut, /timed out after 1000 ms; the cell was interrupted/);
    assert.match(timedOut, /^exit code: 124\n/);
    assert.match(
      await ok(mcp.client, "run_in_session", { sessionId: id, contextId: py, code: "x" }),
      /--- value ---\n21$/,
      "state survives an interrupted cell",
    );

    const node = /context (\S+) created/.exec(
      await ok(mcp.client, "create_context", { sessionId: id, runtime: "node" }),
    )?.[1];
    assert.ok(node);
    await ok(mcp.client, "run_in_session", { sessionId: id, contextId: node, code: "let y = 5" });
    assert.match(
      await ok(mcp.client, "run_in_session", { sessionId: id, contextId: node, code: "y + 1" }),
      /--- value ---\n6$/,
    );

    assert.match(
      await refused(mcp.client, "run_in_session", {
        sessionId: id,
        contextId: py,
        runtime: "node",
        code: "1",
      }),
      /^runtime: context \S+ runs python, not node$/,
    );
    assert.match(
      await refused(mcp.client, "run_in_session", {
        sessionId: id,
        contextId: py,
        code: "input()",
        stdin: "x",
      }),
      /^stdin: /,
    );
    assert.match(
      await refused(mcp.client, "create_context", { sessionId: id, runtime: "bash" }),
      /runtime/,
    );
    assert.match(await ok(mcp.client, "close_context", { sessionId: id, contextId: py }), /closed/);
    assert.match(
      await refused(mcp.client, "run_in_session", { sessionId: id, contextId: py, code: "x" }),
      /^no context /,
    );
    await ok(mcp.client, "close_session", { sessionId: id });
    assert.match(
      await refused(mcp.client, "run_in_session", { sessionId: id, contextId: node, code: "y" }),
      /^no open session/,
    );
  });

  test("write_file and read_file with contextId reach the context's own /sandbox", async () => {
    const id = await openSession(mcp.client, "python");
    const py = /context (\S+) created/.exec(
      await ok(mcp.client, "create_context", { sessionId: id, runtime: "python" }),
    )?.[1];
    assert.ok(py);
    await ok(mcp.client, "write_file", { sessionId: id, path: "data.csv", content: "in session" });
    assert.match(
      await ok(mcp.client, "write_file", {
        sessionId: id,
        contextId: py,
        path: "data.csv",
        content: "n\n20\n22\n",
      }),
      /^wrote 8 bytes to \/sandbox\/data\.csv$/,
    );
    assert.match(
      await ok(mcp.client, "run_in_session", {
        sessionId: id,
        contextId: py,
        code: "import csv\nrows = list(csv.DictReader(open('data.csv')))\nopen('sum.txt', 'w').write(str(sum(int(r['n']) for r in rows)))\nlen(rows)",
      }),
      /--- value ---\n2$/,
    );
    assert.match(
      await ok(mcp.client, "read_file", { sessionId: id, contextId: py, path: "sum.txt" }),
      /42/,
    );
    assert.match(
      await ok(mcp.client, "read_file", { sessionId: id, path: "data.csv" }),
      /in session/,
      "the session's file is its own",
    );
    assert.match(
      await refused(mcp.client, "read_file", { sessionId: id, contextId: "nope", path: "x" }),
      /^no context "nope"/,
    );
    await ok(mcp.client, "close_session", { sessionId: id });
  });

  test("a context's matplotlib plot comes back as image content, between its stdout (--image isol8:python-data)", async () => {
    const data = await stdio(undefined, ["--image", await ensureDataImage()]);
    try {
      const id = await openSession(data.client, "python");
      const created = await ok(data.client, "create_context", { sessionId: id, runtime: "python" });
      const py = /context (\S+) created/.exec(created)?.[1];
      const result = await call(data.client, "run_in_session", {
        sessionId: id,
        contextId: py,
        code: "import matplotlib.pyplot as plt\nprint('before')\nplt.plot([1, 4, 9])\nplt.show()\nprint('after')",
      });
      assert.notEqual(result.isError, true, textOf(result));
      assert.deepEqual(
        result.content.map((c) => c.type),
        ["text", "image", "text"],
      );
      assert.equal(
        textOf({ content: [result.content[0]] } as CallToolResult),
        "exit code: 0\n--- stdout ---\nbefore",
      );
      const image = result.content[1] as { data: string; mimeType: string };
      assert.equal(image.mimeType, "image/png");
      assert.equal(Buffer.from(image.data, "base64").subarray(1, 4).toString(), "PNG");
      assert.equal(textOf({ content: [result.content[2]] } as CallToolResult), "after");
    } finally {
      await data.close();
    }
  });

  test("a long run sends progress to a client that asks, so its request timeout is reset", async () => {
    const progress: number[] = [];
    const result = (await mcp.client.callTool(
      {
        name: "run_code",
        arguments: { runtime: "python", code: "import time\ntime.sleep(7)\nprint('slept')" },
      },
      undefined,
      {
        timeout: 5500,
        resetTimeoutOnProgress: true,
        onprogress: (p) => progress.push(p.progress),
      },
    )) as CallToolResult;
    assert.equal(textOf(result), "exit code: 0\n--- stdout ---\nslept");
    assert.deepEqual(progress, [5]);
  });

  test("cancelling a call kills its run", async () => {
    const id = await openSession(mcp.client, "python");
    const abort = new AbortController();
    const running = mcp.client.callTool(
      {
        name: "run_in_session",
        arguments: {
          sessionId: id,
          code: "import time\nopen('started', 'w')\ntime.sleep(20)\nopen('finished', 'w')",
        },
      },
      undefined,
      { signal: abort.signal },
    );
    // The session runs one call at a time: this one waits for the sleeper
    // unless it was killed, and would then list its "finished".
    await new Promise((r) => setTimeout(r, 1000));
    abort.abort();
    await assert.rejects(running);
    const listing = await ok(mcp.client, "run_in_session", {
      sessionId: id,
      runtime: "bash",
      code: "ls",
    });
    assert.match(listing, /started/);
    assert.doesNotMatch(listing, /finished/);
    await ok(mcp.client, "close_session", { sessionId: id });
  });

  test("at most 8 sessions per client; closing one makes room", async () => {
    const own = await stdio();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) ids.push(await openSession(own.client, "bash"));
      assert.match(
        await refused(own.client, "open_session", { runtime: "bash" }),
        /^too many open sessions \(8, the limit is 8\); close one with close_session first$/,
      );
      await ok(own.client, "close_session", { sessionId: ids[0] });
      await openSession(own.client, "bash");
    } finally {
      await own.close();
    }
  });

  test("stdout carries only protocol messages; SIGTERM removes the sessions and exits 0", async () => {
    const child = spawn(process.execPath, [CLI, "mcp"], { env: cleanEnv(), cwd: workdir() });
    let stdout = "";
    const answered = new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('"id":2')) resolve();
      });
    });
    const send = (message: object) => child.stdin.write(`${JSON.stringify(message)}\n`);
    send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "raw", version: "1" },
      },
    });
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    send({
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: { name: "open_session", arguments: { runtime: "python" } },
    });
    await answered;
    const pid = child.pid ?? 0;
    assert.ok((await containersOf(pid)).length > 0, "the session's container exists");
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.deepEqual(await containersOf(pid), []);
    const lines = stdout.split("\n").filter((line) => line !== "");
    assert.equal(lines.length, 2, stdout);
    for (const line of lines) assert.equal(JSON.parse(line).jsonrpc, "2.0");
    assert.match(
      JSON.parse(lines[1] ?? "").result.content[0].text,
      /^session \S+ opened \(python\)/,
    );
  });

  test("the client disconnecting removes every container the server made", async () => {
    const own = await stdio();
    const id = await openSession(own.client, "node");
    await ok(own.client, "create_context", { sessionId: id, runtime: "python" });
    await ok(own.client, "run_code", { runtime: "python", code: "print(1)" });
    assert.ok((await containersOf(own.pid)).length > 0, "the session's container exists");
    await own.close();
    assert.ok(
      await eventually(async () => (await containersOf(own.pid)).length === 0),
      "no container left",
    );
  });
});

describe("isol8 mcp: limits and network from the config file", () => {
  let pypi: PackageIndex;
  before(async () => {
    pypi = await startPythonIndex([
      {
        name: "isol8-mcp-fixture",
        version: "1.0.0",
        modules: { "isol8_mcp_fixture.py": "WHO = 'the local index'\n" },
      },
    ]);
  });
  after(async () => {
    await pypi.close();
  });

  test("a timeout above the config's is cut to it, with a notice", async () => {
    const mcp = await stdio({ defaults: { timeoutMs: 4000, memoryLimit: "256m" } });
    try {
      const { tools } = await mcp.client.listTools();
      const run = tools.find((t) => t.name === "run_code");
      assert.match(run?.description ?? "", /Timeout: 4000 ms per call/);
      assert.match(run?.description ?? "", /Memory: 256m/);
      const text = await ok(mcp.client, "run_code", {
        runtime: "python",
        code: "print('fine')",
        timeoutMs: 600000,
      });
      assert.match(
        text,
        /^exit code: 0\n--- stdout ---\nfine\n--- notices ---\ntimeoutMs 600000 is above this server's limit; the run used 4000 ms$/,
      );
    } finally {
      await mcp.close();
    }
  });

  test("filtered: packages install from the registry, which the program itself cannot reach", async () => {
    const mcp = await stdio({
      defaults: { network: "filtered" },
      network: { whitelist: [] },
      registries: { pip: pypi.url },
    });
    try {
      const { tools } = await mcp.client.listTools();
      assert.match(
        tools.find((t) => t.name === "run_code")?.description ?? "",
        /filtered, and no host is allowed/,
      );
      const text = await ok(mcp.client, "run_code", {
        runtime: "python",
        packages: ["isol8-mcp-fixture"],
        code: `import isol8_mcp_fixture, urllib.request\nprint('from', isol8_mcp_fixture.WHO)\ntry:\n  urllib.request.urlopen('${pypi.url}', timeout=5)\n  print('reached the index')\nexcept Exception as e:\n  print('index refused')`,
      });
      assert.match(text, /^exit code: 0\n--- stdout ---\nfrom the local index\nindex refused$/);
      const failed = await ok(mcp.client, "run_code", {
        runtime: "python",
        packages: ["isol8-no-such-package"],
        code: "print('never')",
      });
      assert.match(failed, /--- stderr \(package install\) ---/);
      assert.match(failed, /installing packages failed \(exit \d+\); the program did not run/);
      assert.doesNotMatch(failed, /never/);
      // A runtime without a run-time installer is refused, naming those that have one.
      const bash = await refused(mcp.client, "run_code", {
        runtime: "bash",
        packages: ["curl"],
        code: "echo never",
      });
      assert.equal(bash, "packages: not available for bash; use python, node, bun or deno");
    } finally {
      await mcp.close();
    }
  });
});

describe("isol8 mcp: start-up errors are one line", () => {
  async function startup(args: string[], env = cleanEnv(), cwd?: string) {
    const child = spawn(process.execPath, [CLI, "mcp", ...args], { env, cwd });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise((resolve) => child.once("exit", resolve));
    return { code, stdout, stderr };
  }

  test("Docker unreachable: exit 125", async () => {
    const r = await startup([], cleanEnv({ DOCKER_HOST: "unix:///nonexistent/docker.sock" }));
    assert.equal(r.code, 125);
    assert.match(r.stderr, /^isol8: Docker is not reachable .*\n$/);
    assert.equal(r.stdout, "");
  });

  test("an invalid config file, a missing --config, HTTP flags without --port: exit 2", async () => {
    const bad = await startup([], cleanEnv(), workdir({ defaults: { timeoutMs: -1 } }));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^isol8: .*isol8\.config\.json: defaults\.timeoutMs: .*\n$/);
    const missing = await startup(["--config", "/nonexistent/isol8.json"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^isol8: --config: \/nonexistent\/isol8\.json does not exist\n$/);
    const flags = await startup(["--key", "k", "--bind", "0.0.0.0"]);
    assert.equal(flags.code, 2);
    assert.match(flags.stderr, /^isol8: --bind, --key: need --port/);
  });
});

describe("isol8 mcp over streamable HTTP", () => {
  const KEY = "mcp-test-key-0123456789";
  let server: ChildProcess;
  let url: string;
  let output = "";

  /** `isol8 mcp --port 0 ...`; resolves with the URL it prints. */
  function startServer(args: string[]): Promise<{ child: ChildProcess; url: string }> {
    const child = spawn(process.execPath, [CLI, "mcp", "--port", "0", ...args], {
      env: cleanEnv(),
      cwd: workdir(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new Promise((resolve, reject) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const found = /listening on (http:\/\/\S+)/.exec(output)?.[1];
        if (found) resolve({ child, url: found });
      });
      child.stderr?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.once("exit", (code) => reject(new Error(`exited ${code}: ${output}`)));
    });
  }

  async function connect(
    key = KEY,
    target = url,
  ): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
    const transport = new StreamableHTTPClientTransport(new URL(target), {
      requestInit: { headers: { Authorization: `Bearer ${key}` } },
    });
    const client = new Client({ name: "isol8-test", version: "1.0.0" });
    await client.connect(transport);
    return { client, transport };
  }

  before(async () => {
    ({ child: server, url } = await startServer(["--key", KEY, "--idle-timeout", "1"]));
  });
  after(() => {
    if (server.exitCode === null) server.kill("SIGKILL");
  });

  test("refuses to start without a key unless --insecure-no-auth", async () => {
    const child = spawn(process.execPath, [CLI, "mcp", "--port", "0"], { env: cleanEnv() });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise((resolve) => child.once("exit", resolve));
    assert.equal(code, 2);
    assert.match(stderr, /^isol8: a key is required for --port/);
  });

  test("401 without the key, 403 with a wrong one; the SDK client is refused too", async () => {
    const init = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-03-26",
        capabilities: {},
        clientInfo: { name: "t", version: "1" },
      },
    };
    const post = (headers: Record<string, string>) =>
      fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...headers,
        },
        body: JSON.stringify(init),
      });
    const none = await post({});
    assert.equal(none.status, 401);
    assert.equal(none.headers.get("www-authenticate"), "Bearer");
    assert.equal((await post({ authorization: "Bearer wrong" })).status, 403);
    await assert.rejects(connect("wrong"), /invalid key/);
  });

  test("bound to loopback: a Host or Origin that is not loopback is refused (DNS rebinding)", async () => {
    const status = (headers: Record<string, string>) =>
      new Promise<number | undefined>((resolve, reject) => {
        const request = httpRequest(url, {
          method: "POST",
          headers: {
            authorization: `Bearer ${KEY}`,
            "content-type": "application/json",
            ...headers,
          },
        });
        request.on("response", (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        request.on("error", reject);
        request.end("{}");
      });
    const port = Number(new URL(url).port);
    assert.equal(await status({ host: `attacker.example:${port}` }), 403);
    assert.equal(await status({ origin: "http://attacker.example" }), 403);
    // Names that only start like a loopback address, and loopback on another port.
    assert.equal(await status({ host: `127.0.0.1.attacker.example:${port}` }), 403);
    assert.equal(await status({ origin: `http://127.0.0.1.attacker.example:${port}` }), 403);
    assert.equal(await status({ host: `127.0.0.1:${port + 1}` }), 403);
    assert.equal(await status({ origin: "http://localhost:8080" }), 403);
    assert.equal(await status({ host: `localhost:${port}` }), 400, "loopback names pass");
    assert.equal(
      await status({ host: `[::1]:${port}`, origin: `http://127.0.0.1:${port}` }),
      400,
      "loopback addresses with the port pass",
    );
  });

  test("tools, a run and a session over HTTP; DELETE ends the session and removes its sandboxes", async () => {
    const { client, transport } = await connect();
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);
    assert.equal(
      await ok(client, "run_code", { runtime: "node", code: "console.log('over http')" }),
      "exit code: 0\n--- stdout ---\nover http",
    );
    const id = await openSession(client, "python");
    await ok(client, "write_file", { sessionId: id, path: "a.txt", content: "kept" });
    assert.equal(await ok(client, "read_file", { sessionId: id, path: "a.txt" }), "kept");
    const pid = server.pid ?? 0;
    assert.ok(
      (await containersOf(pid)).some((c) => c.Labels["isol8.session"] !== undefined),
      "the session's container exists",
    );
    await transport.terminateSession();
    await client.close();
    assert.ok(
      await eventually(async () => (await containersOf(pid)).length === 0),
      "no container left after the session ended",
    );
  });

  test("a client that goes away without DELETE: its sandboxes go after the idle timeout", async () => {
    const { client } = await connect();
    await openSession(client, "bash");
    const pid = server.pid ?? 0;
    assert.ok((await containersOf(pid)).length > 0);
    await client.close();
    assert.ok(
      await eventually(async () => (await containersOf(pid)).length === 0, 15_000),
      "no container left after the idle timeout",
    );
    assert.match(output, /ended \(idle for 1 s\)/);
  });

  test("SIGTERM stops the server and removes every session's sandboxes", async () => {
    const { client } = await connect();
    await openSession(client, "python");
    const pid = server.pid ?? 0;
    assert.ok((await containersOf(pid)).length > 0, "the session's container exists");
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.deepEqual(await containersOf(pid), []);
    await client.close().catch(() => undefined);
  });
});
