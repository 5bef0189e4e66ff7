import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { createDockerClient } from "../../src/backend/docker/client.js";
import { DockerIsol8 } from "../../src/engine/docker-isol8.js";
import { InvalidRequestError } from "../../src/engine/request.js";
import type { ExecutionRequest, StreamEvent } from "../../src/types.js";
import { engine } from "../support/engine.js";
import { outputRuns } from "../support/stream.js";

async function events(isol8: DockerIsol8, request: ExecutionRequest): Promise<StreamEvent[]> {
  const seen: StreamEvent[] = [];
  for await (const event of isol8.executeStream(request)) seen.push(event);
  return seen;
}

describe("code contexts: python", () => {
  const isol8 = engine();

  test("state survives 100 calls", async () => {
    const { id, runtime } = await isol8.createContext({ runtime: "python" });
    assert.equal(runtime, "python");
    const first = await isol8.execute({ runtime, code: "x = 0", contextId: id });
    assert.equal(first.exitCode, 0);
    assert.equal(first.value, undefined);
    for (let i = 0; i < 100; i++) {
      const step = await isol8.execute({ runtime, code: "x += 1", contextId: id });
      assert.equal(step.exitCode, 0, step.stderr);
    }
    const result = await isol8.execute({ runtime, code: "print(x)", contextId: id });
    assert.equal(result.stdout, "100\n");
    assert.equal(result.contextRestarted, undefined);
    await isol8.closeContext(id);
  });

  test("imports and functions persist; the last expression's value comes back as repr()", async () => {
    const { id } = await isol8.createContext({ runtime: "python" });
    const call = (code: string) => isol8.execute({ runtime: "python", code, contextId: id });
    await call("import json\ndef double(n):\n    return n * 2");
    assert.equal((await call("double(21)")).value, "42");
    assert.equal((await call("json.dumps({'a': [1, 2]})")).value, `'{"a": [1, 2]}'`);
    assert.equal((await call("'hello'")).value, "'hello'");
    assert.equal((await call("{'k': None}")).value, "{'k': None}");
    assert.equal((await call("None")).value, undefined);
    assert.equal((await call("y = 5")).value, undefined);
    const printed = await call("print('shown')\n7");
    assert.equal(printed.stdout, "shown\n");
    assert.equal(printed.value, "7");
    const awaited = await call("import asyncio\nawait asyncio.sleep(0.01)\n'async ok'");
    assert.equal(awaited.value, "'async ok'", awaited.stderr);
    await isol8.closeContext(id);
  });

  test("an exception is reported with the cell's own line and source, and the context stays usable", async () => {
    const { id } = await isol8.createContext({ runtime: "python" });
    const call = (code: string) => isol8.execute({ runtime: "python", code, contextId: id });
    await call("kept = 'still here'");
    const failed = await call("a = 1\nb = a / 0\nc = 3");
    assert.equal(failed.exitCode, 1);
    assert.equal(failed.contextRestarted, undefined);
    assert.match(failed.stderr, /File "<cell \d+>", line 2, in <module>\n {4}b = a \/ 0\n/);
    assert.match(failed.stderr, /ZeroDivisionError: division by zero\n$/);
    assert.doesNotMatch(failed.stderr, /context\.py|isol8/);
    const nested = await call("def inner():\n    raise ValueError('deep')\n\ninner()");
    assert.match(nested.stderr, /line 4, in <module>\n {4}inner\(\)\n/);
    assert.match(nested.stderr, /line 2, in inner\n {4}raise ValueError\('deep'\)\n/);
    const syntax = await call("x = (1,");
    assert.equal(syntax.exitCode, 1);
    assert.match(syntax.stderr, /File "<cell \d+>", line 1\n/);
    assert.match(syntax.stderr, /SyntaxError/);
    const exit = await call("import sys\nsys.exit(3)");
    assert.equal(exit.exitCode, 3);
    assert.equal((await call("kept")).value, "'still here'");
    await isol8.closeContext(id);
  });

  test("an infinite loop is interrupted at its timeout and the context keeps its state", async () => {
    const { id } = await isol8.createContext({ runtime: "python" });
    await isol8.execute({ runtime: "python", code: "x = 41", contextId: id });
    const started = performance.now();
    const streamed = await events(isol8, {
      runtime: "python",
      code: "while True:\n    pass",
      contextId: id,
      timeoutMs: 700,
    });
    const elapsed = performance.now() - started;
    const exit = streamed.at(-1) as Extract<StreamEvent, { type: "exit" }>;
    assert.equal(exit.type, "exit");
    assert.equal(exit.result.timedOut, true);
    assert.equal(exit.result.exitCode, 124, "a timeout reads 124, however the cell stopped");
    assert.equal(exit.result.contextRestarted, undefined);
    // Not before its timeout (no load makes a timeout early); that it was the
    // interrupt and not the kill after the grace, contextRestarted says.
    assert.ok(elapsed >= 650, `took ${elapsed} ms`);
    const stderr = streamed.flatMap((e) => (e.type === "stderr" ? [e.data] : [])).join("");
    assert.match(
      stderr,
      /File "<cell \d+>", line \d, in <module>\n {4}(while True:|pass)\nKeyboardInterrupt\n$/,
    );
    assert.ok(streamed.some((e) => e.type === "error" && /timed out after 700 ms/.test(e.data)));
    const after = await isol8.execute({ runtime: "python", code: "x + 1", contextId: id });
    assert.equal(after.value, "42");
    // Blocking calls are interrupted too.
    const sleep = await isol8.execute({
      runtime: "python",
      code: "import time\ntime.sleep(60)",
      contextId: id,
      timeoutMs: 300,
    });
    assert.equal(sleep.timedOut, true);
    assert.equal(sleep.contextRestarted, undefined);
    await isol8.closeContext(id);
  });

  test("a cell that ignores SIGINT is killed after the grace: restarted, state lost, and said so", async () => {
    const { id } = await isol8.createContext({ runtime: "python" });
    await isol8.execute({ runtime: "python", code: "x = 1", contextId: id });
    const started = performance.now();
    const streamed = await events(isol8, {
      runtime: "python",
      code: "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
      contextId: id,
      timeoutMs: 500,
    });
    const elapsed = performance.now() - started;
    const exit = streamed.at(-1) as Extract<StreamEvent, { type: "exit" }>;
    assert.equal(exit.result.contextRestarted, true);
    assert.equal(exit.result.timedOut, true);
    // The timeout and the 2 s grace both passed before the kill.
    assert.ok(elapsed >= 2400, `took ${elapsed} ms`);
    const error = streamed.find((e) => e.type === "error");
    assert.match(
      error?.data ?? "",
      /did not stop within 2000 ms of SIGINT.*restarted.*state is lost/,
    );
    const after = await isol8.execute({ runtime: "python", code: "x", contextId: id });
    assert.equal(after.exitCode, 1);
    assert.match(after.stderr, /NameError: name 'x' is not defined/);
    assert.equal(after.contextRestarted, undefined, "the loss was reported once");
    // The restarted interpreter interrupts as usual.
    const loop = await isol8.execute({
      runtime: "python",
      code: "while True: pass",
      contextId: id,
      timeoutMs: 300,
    });
    assert.equal(loop.exitCode, 124);
    await isol8.closeContext(id);
  });

  test("an interpreter that exits is restarted, and the call says so", async () => {
    const { id } = await isol8.createContext({ runtime: "python" });
    await isol8.execute({ runtime: "python", code: "x = 1", contextId: id });
    const died = await isol8.execute({
      runtime: "python",
      code: "import os\nos._exit(7)",
      contextId: id,
    });
    assert.equal(died.contextRestarted, true);
    assert.equal(died.exitCode, 7);
    const after = await isol8.execute({ runtime: "python", code: "'fresh'", contextId: id });
    assert.equal(after.value, "'fresh'");
    await isol8.closeContext(id);
  });

  test("stdout and stderr stream in order within a call, and only into that call", async () => {
    const { id } = await isol8.createContext({ runtime: "python" });
    const code = [
      "import os, subprocess, sys, time",
      "print('one')",
      "print('two', file=sys.stderr)",
      "os.write(1, b'three\\n')",
      "print('four', flush=True)",
      "time.sleep(1)",
      "subprocess.run(['sh', '-c', 'echo five; echo six >&2'])",
      "print('seven')",
    ].join("\n");
    const started = performance.now();
    const streamed: { event: StreamEvent; at: number }[] = [];
    for await (const event of isol8.executeStream({ runtime: "python", code, contextId: id }))
      streamed.push({ event, at: performance.now() - started });
    const output = streamed.filter(
      (e): e is { event: Extract<StreamEvent, { type: "stdout" | "stderr" }>; at: number } =>
        e.event.type === "stdout" || e.event.type === "stderr",
    );
    const stdout = output.filter((e) => e.event.type === "stdout").map((e) => e.event.data);
    const stderr = output.filter((e) => e.event.type === "stderr").map((e) => e.event.data);
    assert.equal(stdout.join(""), "one\nthree\nfour\nfive\nseven\n");
    assert.equal(stderr.join(""), "two\nsix\n");
    // Python-level writes keep their order across the two streams.
    const runs = outputRuns(output.map((e) => e.event));
    assert.deepEqual(runs.slice(0, 2), ["stdout:one\n", "stderr:two\n"]);
    assert.ok(runs[2]?.startsWith("stdout:three\n"), JSON.stringify(runs));
    // Output streams as it is produced, before the sleep ends.
    const four = output.find((e) => e.event.data.includes("four"));
    const exit = streamed.at(-1);
    assert.equal(exit?.event.type, "exit");
    // Half the sleep: a test process held up by a loaded machine may take
    // "four" late, but not a second late and still have the rest at once.
    assert.ok(four && exit && exit.at - four.at >= 500, "four arrived before the sleep");
    // A thread left running by its cell is stopped between cells (see
    // context-freeze.test.ts) and goes on in the next one: what it prints
    // then shows up in that call, not lost.
    await isol8.execute({
      runtime: "python",
      code: "import threading, time\nthreading.Timer(0.2, lambda: print('late')).start()",
      contextId: id,
    });
    await new Promise((r) => setTimeout(r, 400));
    const next = await isol8.execute({
      runtime: "python",
      code: "import time\ntime.sleep(0.5)\nprint('now')",
      contextId: id,
    });
    assert.equal(next.stdout, "late\nnow\n");
    await isol8.closeContext(id);
  });

  test("two contexts of one engine do not share state", async () => {
    const a = await isol8.createContext({ runtime: "python" });
    const b = await isol8.createContext({ runtime: "python" });
    assert.notEqual(a.id, b.id);
    await isol8.execute({ runtime: "python", code: "secret = 'a'", contextId: a.id });
    const fromB = await isol8.execute({ runtime: "python", code: "secret", contextId: b.id });
    assert.match(fromB.stderr, /NameError/);
    await isol8.execute({
      runtime: "python",
      code: "open('/sandbox/mine.txt', 'w').write('a')",
      contextId: a.id,
    });
    const file = await isol8.execute({
      runtime: "python",
      code: "import os\nos.path.exists('/sandbox/mine.txt')",
      contextId: b.id,
    });
    assert.equal(file.value, "False");
    const listed = (await isol8.listContexts()).map((c) => c.id);
    assert.ok(listed.includes(a.id) && listed.includes(b.id));
    // Each in a container of its own, running at the same time.
    const [ra, rb] = await Promise.all([
      isol8.execute({ runtime: "python", code: "import time\ntime.sleep(0.3)", contextId: a.id }),
      isol8.execute({ runtime: "python", code: "import time\ntime.sleep(0.3)", contextId: b.id }),
    ]);
    assert.notEqual(ra.containerId, rb.containerId);
    await isol8.closeContext(a.id);
    await isol8.closeContext(b.id);
  });

  test("reset gives a fresh interpreter and empty /sandbox; close removes the container", async () => {
    const { id } = await isol8.createContext({ runtime: "python" });
    const made = await isol8.execute({
      runtime: "python",
      code: "x = 1\nopen('/sandbox/f.txt', 'w').write('x')",
      contextId: id,
    });
    await isol8.resetContext(id);
    const after = await isol8.execute({
      runtime: "python",
      code: "import os\n('x' in globals(), os.path.exists('/sandbox/f.txt'))",
      contextId: id,
    });
    assert.equal(after.value, "(False, False)");
    assert.equal(after.contextRestarted, undefined);
    await isol8.closeContext(id);
    assert.ok(!(await isol8.listContexts()).some((c) => c.id === id));
    await assert.rejects(
      isol8.execute({ runtime: "python", code: "1", contextId: id }),
      InvalidRequestError,
    );
    await assert.rejects(
      createDockerClient()
        .getContainer(made.containerId ?? "")
        .inspect(),
      (error: { statusCode?: number }) => error.statusCode === 404,
    );
  });

  test("bad context requests are refused before anything runs", async () => {
    await assert.rejects(
      isol8.execute({ runtime: "python", code: "1", contextId: "no-such-context" }),
      (error: Error) =>
        error instanceof InvalidRequestError &&
        /contextId: no context "no-such-context"/.test(error.message),
    );
    const { id } = await isol8.createContext({ runtime: "python" });
    await assert.rejects(
      isol8.execute({ runtime: "node", code: "1", contextId: id }),
      (error: Error) =>
        error instanceof InvalidRequestError &&
        /runtime: context .* runs python, not node/.test(error.message),
    );
    assert.throws(
      () => isol8.executeStream({ runtime: "python", code: "1", contextId: id, stdin: "x" }),
      /stdin: not supported with contextId/,
    );
    await assert.rejects(
      isol8.execute({ runtime: "python", cmd: "ls", contextId: id }),
      /cmd: not supported with contextId/,
    );
    await assert.rejects(isol8.createContext({ runtime: "bash" }), /contexts run python or node/);
    await assert.rejects(isol8.resetContext("nope"), InvalidRequestError);
    await assert.rejects(isol8.closeContext("nope"), InvalidRequestError);
    await isol8.closeContext(id);
  });
});

describe("code contexts: node", () => {
  const isol8 = engine();

  test("let, const, functions and classes persist; the last value comes back as util.inspect()", async () => {
    const { id } = await isol8.createContext({ runtime: "node" });
    const call = (code: string) => isol8.execute({ runtime: "node", code, contextId: id });
    assert.equal((await call("let x = 1")).value, undefined);
    await call(
      "const y = 2\nfunction add(a, b) { return a + b }\nclass P { constructor() { this.v = 3 } }",
    );
    const sum = await call("x += 10\nadd(x, y)");
    assert.equal(sum.value, "13", sum.stderr);
    assert.equal((await call("new P()")).value, "P { v: 3 }");
    assert.equal((await call("({ a: [1, 'two'] })")).value, "{ a: [ 1, 'two' ] }");
    assert.equal((await call("'text'")).value, "'text'");
    assert.equal((await call("undefined")).value, undefined);
    const printed = await call("console.log('out'); console.error('err'); 5");
    assert.equal(printed.stdout, "out\n");
    assert.equal(printed.stderr, "err\n");
    assert.equal(printed.value, "5");
    const awaited = await call(
      "const z = await new Promise((r) => setTimeout(() => r(7), 10))\nz * 2",
    );
    assert.equal(awaited.value, "14", awaited.stderr);
    assert.equal((await call("z + x")).value, "18");
    assert.equal((await call("require('node:path').basename('/a/b.txt')")).value, "'b.txt'");
    await isol8.closeContext(id);
  });

  test("errors show the cell's line; loops are interrupted at the timeout; the context goes on", async () => {
    const { id } = await isol8.createContext({ runtime: "node" });
    const call = (code: string, timeoutMs?: number) =>
      isol8.execute({ runtime: "node", code, contextId: id, timeoutMs });
    await call("var kept = 'yes'");
    const failed = await call("const a = 1\nthrow new Error('boom')");
    assert.equal(failed.exitCode, 1);
    assert.match(
      failed.stderr,
      /^<cell \d+>:2\nthrow new Error\('boom'\)\n\^\n\nError: boom\n {4}at <cell \d+>:2:7\n$/,
    );
    const loop = await call("while (true) {}", 500);
    assert.equal(loop.timedOut, true);
    assert.equal(loop.exitCode, 124);
    assert.equal(loop.contextRestarted, undefined);
    const wait = await call("await new Promise(() => {})", 300);
    assert.equal(wait.timedOut, true);
    assert.equal(wait.contextRestarted, undefined);
    assert.equal((await call("kept")).value, "'yes'");
    const exited = await call("process.exit(4)");
    assert.equal(exited.contextRestarted, true);
    assert.equal(exited.exitCode, 4);
    const fresh = await call("typeof kept");
    assert.equal(fresh.value, "'undefined'");
    await isol8.closeContext(id);
  });
});

describe("code contexts: engines", () => {
  test("contexts of two engines do not see each other; stop() closes them all", async () => {
    const one = new DockerIsol8();
    const two = new DockerIsol8();
    try {
      const a = await one.createContext({ runtime: "python" });
      const first = await one.execute({ runtime: "python", code: "'in one'", contextId: a.id });
      assert.deepEqual(await two.listContexts(), []);
      await assert.rejects(
        two.execute({ runtime: "python", code: "1", contextId: a.id }),
        InvalidRequestError,
      );
      await one.stop();
      assert.deepEqual(await one.listContexts(), []);
      await assert.rejects(
        createDockerClient()
          .getContainer(first.containerId ?? "")
          .inspect(),
        (error: { statusCode?: number }) => error.statusCode === 404,
      );
    } finally {
      await Promise.all([one.stop(), two.stop()]);
    }
  });

  test("an out-of-memory kill restarts the context; kill() and leaving a stream early reach the cell", async () => {
    const isol8 = engine({ memoryLimit: "128m" });
    const { id } = await isol8.createContext({ runtime: "python" });
    const oom = await isol8.execute({
      runtime: "python",
      code: "x = bytearray(400 * 1024 * 1024)",
      contextId: id,
    });
    assert.equal(oom.oomKilled, true);
    assert.equal(oom.contextRestarted, true);
    const run = isol8.executeStream({
      runtime: "python",
      code: "import time\nprint('go', flush=True)\ntime.sleep(30)",
      contextId: id,
    });
    const seen: StreamEvent[] = [];
    for await (const event of run) {
      seen.push(event);
      if (event.type === "stdout") run.kill("SIGKILL");
    }
    assert.match(
      seen.find((e) => e.type === "error")?.data ?? "",
      /was killed \(SIGKILL\); it was restarted/,
    );
    await isol8.execute({ runtime: "python", code: "kept = 'yes'", contextId: id });
    for await (const event of isol8.executeStream({
      runtime: "python",
      code: "import time\nprint('go', flush=True)\ntime.sleep(30)\nkept = 'not interrupted'",
      contextId: id,
    }))
      if (event.type === "stdout") break;
    // Had the abandoned cell run on, this call would have waited for it and
    // found what it set after its sleep.
    const after = await isol8.execute({ runtime: "python", code: "kept", contextId: id });
    assert.equal(after.value, "'yes'", "the abandoned cell was interrupted");
  });

  test("a persistent engine's contexts have their own /sandbox; secrets are masked; output is cut per call", async () => {
    const isol8 = engine({
      mode: "persistent",
      secrets: { TOKEN: "s3cr3t-value" },
      maxOutputSize: 1000,
    });
    await isol8.putFile("/sandbox/session.txt", "session file");
    const { id } = await isol8.createContext({ runtime: "python" });
    const seen = await isol8.execute({
      runtime: "python",
      code: "import os\nos.path.exists('/sandbox/session.txt')",
      contextId: id,
    });
    assert.equal(seen.value, "False");
    const masked = await isol8.execute({
      runtime: "python",
      code: "import os\nprint(os.environ['TOKEN'])\nos.environ['TOKEN']",
      contextId: id,
    });
    assert.equal(masked.stdout, "***\n");
    assert.equal(masked.value, "'***'");
    const big = await isol8.execute({
      runtime: "python",
      code: "print('x' * 5000)",
      contextId: id,
    });
    assert.equal(big.stdout.length, 1000);
    assert.equal(big.truncated, true);
    const small = await isol8.execute({ runtime: "python", code: "print('ok')", contextId: id });
    assert.equal(small.stdout, "ok\n");
    assert.equal(small.truncated, false);
  });
});

describe("code contexts: files", () => {
  test("putFile and getFile with contextId reach the context's /sandbox, bytes intact", async () => {
    const isol8 = engine();
    const { id } = await isol8.createContext({ runtime: "python" });
    const call = (code: string) => isol8.execute({ runtime: "python", code, contextId: id });
    await isol8.putFile("/sandbox/data/in.csv", "a,b\n1,2\n3,4\n", { contextId: id });
    const sum = await call(
      "import csv\nrows = list(csv.DictReader(open('/sandbox/data/in.csv')))\nsum(int(r['b']) for r in rows)",
    );
    assert.equal(sum.value, "6", sum.stderr);
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await isol8.putFile("/sandbox/all.bin", bytes, { contextId: id });
    assert.equal(
      (await call("list(open('/sandbox/all.bin', 'rb').read()) == list(range(256))")).value,
      "True",
    );
    await call("open('/sandbox/out.bin', 'wb').write(bytes(reversed(range(256))))\nx = 1");
    assert.deepEqual(
      await isol8.getFile("/sandbox/out.bin", { contextId: id }),
      Buffer.from(bytes).reverse(),
    );
    // The interpreter's state is untouched by file operations.
    assert.equal((await call("x + len(rows)")).value, "3");
    const node = await isol8.createContext({ runtime: "node" });
    await isol8.putFile("/sandbox/n.json", '{"n": 41}', { contextId: node.id });
    const read = await isol8.execute({
      runtime: "node",
      contextId: node.id,
      code: "JSON.parse(require('fs').readFileSync('/sandbox/n.json', 'utf8')).n + 1",
    });
    assert.equal(read.value, "42", read.stderr);
    // Contexts do not share files.
    await assert.rejects(
      isol8.getFile("/sandbox/n.json", { contextId: id }),
      /\/sandbox\/n\.json: no such file/,
    );
  });

  test("a file operation waits for the running cell, and sees what it wrote", async () => {
    const isol8 = engine();
    const { id } = await isol8.createContext({ runtime: "python" });
    const cell = isol8.execute({
      runtime: "python",
      contextId: id,
      code: "import time\ntime.sleep(1)\nopen('/sandbox/late.txt', 'w').write('done')",
    });
    const read = await isol8.getFile("/sandbox/late.txt", { contextId: id });
    assert.equal(read.toString(), "done");
    assert.equal((await cell).exitCode, 0);
  });

  test("escapes are refused: paths outside /sandbox, symlinks out, directories, unknown contexts; nothing lands outside", async () => {
    const isol8 = engine();
    const { id } = await isol8.createContext({ runtime: "python" });
    const call = (code: string) => isol8.execute({ runtime: "python", code, contextId: id });
    await assert.rejects(isol8.putFile("/tmp/x", "x", { contextId: id }), InvalidRequestError);
    await assert.rejects(
      isol8.getFile("/sandbox/../etc/passwd", { contextId: id }),
      /outside \/sandbox/,
    );
    await call(
      "import os\nos.symlink('/etc/passwd', '/sandbox/pw')\nos.symlink('/tmp', '/sandbox/tmpdir')\nos.mkdir('/sandbox/dir')",
    );
    await assert.rejects(
      isol8.getFile("/sandbox/pw", { contextId: id }),
      /resolves outside \/sandbox \(to \/etc\/passwd\)/,
    );
    await assert.rejects(
      isol8.putFile("/sandbox/pw", "root::0:0::/:/bin/sh", { contextId: id }),
      /resolves outside \/sandbox/,
    );
    await assert.rejects(
      isol8.putFile("/sandbox/tmpdir/planted", "x", { contextId: id }),
      /resolves outside \/sandbox/,
    );
    await assert.rejects(isol8.putFile("/sandbox/dir", "x", { contextId: id }), /is a directory/);
    await assert.rejects(isol8.getFile("/sandbox/dir", { contextId: id }), /not a regular file/);
    const after = await call(
      "import os\n[open('/etc/passwd').read().startswith('root::'), os.path.exists('/tmp/planted')]",
    );
    assert.equal(after.value, "[False, False]");
    await assert.rejects(
      isol8.getFile("/sandbox/x", { contextId: "no-such-context" }),
      /contextId: no context "no-such-context"/,
    );
    await isol8.closeContext(id);
    await assert.rejects(
      isol8.putFile("/sandbox/x", "x", { contextId: id }),
      /contextId: no context/,
    );
  });

  test("megabytes go through whole; a refusal says why before the content is sent", async () => {
    const isol8 = engine();
    const { id } = await isol8.createContext({ runtime: "python" });
    const big = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    await isol8.putFile("/sandbox/big.bin", big, { contextId: id });
    const digest = await isol8.execute({
      runtime: "python",
      contextId: id,
      code: "import hashlib\nhashlib.sha256(open('/sandbox/big.bin', 'rb').read()).hexdigest()",
    });
    assert.equal(digest.value, `'${createHash("sha256").update(big).digest("hex")}'`);
    assert.deepEqual(await isol8.getFile("/sandbox/big.bin", { contextId: id }), big);
    await isol8.execute({
      runtime: "python",
      contextId: id,
      code: "import os\nos.mkdir('/sandbox/d')\nos.mkfifo('/sandbox/pipe')",
    });
    await assert.rejects(
      isol8.putFile("/sandbox/d", big, { contextId: id }),
      /\/sandbox\/d: is a directory$/,
    );
    await assert.rejects(
      isol8.putFile("/sandbox/pipe", big, { contextId: id }),
      /\/sandbox\/pipe: not a regular file$/,
    );
  });

  test("a process in a session of its own cannot stop a file operation: it is stopped between cells too", async () => {
    const isol8 = engine({ timeoutMs: 2000 });
    const { id } = await isol8.createContext({ runtime: "python" });
    const call = (code: string) => isol8.execute({ runtime: "python", code, contextId: id });
    await call("open('/sandbox/f.txt', 'w').write('x')\nkept = 7");
    // Out of the kernel's process group and session, it tries to stop every
    // process the engine's docker exec starts. File operations run between
    // cells, when every process of the sandbox user is stopped (a signal to
    // the kernel's group alone missed this one, and the operation then
    // waited out its deadline).
    const stopper = [
      "import os, signal",
      "while True:",
      "    for pid in os.listdir('/proc'):",
      "        try:",
      "            if open(f'/proc/{pid}/comm').read().strip() in ('setpriv', 'timeout', 'bash', 'cat'):",
      "                os.kill(int(pid), signal.SIGSTOP)",
      "        except (OSError, ValueError):",
      "            pass",
    ].join("\n");
    const started = await call(
      `import subprocess, sys\nstopper = subprocess.Popen([sys.executable, '-c', ${JSON.stringify(stopper)}], start_new_session=True)`,
    );
    assert.equal(started.exitCode, 0, started.stderr);
    assert.equal((await isol8.getFile("/sandbox/f.txt", { contextId: id })).toString(), "x");
    // The stopper was alive all along, and is still.
    assert.equal((await call("print(stopper.poll())")).stdout, "None\n");
    // The context is not stuck behind the operation.
    assert.equal((await call("kept")).value, "7");
    await isol8.resetContext(id);
    const gone = await isol8
      .getFile("/sandbox/f.txt", { contextId: id })
      .catch((e: Error) => e.message);
    assert.equal(gone, "/sandbox/f.txt: no such file");
  });
});
