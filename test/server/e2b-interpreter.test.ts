// E2B's code interpreter SDK (`@e2b/code-interpreter` from npm, unmodified)
// against a real isol8 server: stateful cells in the sandbox's own kernel
// processes, streamed output, results, errors with tracebacks, contexts.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { Sandbox } from "@e2b/code-interpreter";
import { ensureDataImage } from "../fixtures/data-image.js";
import { startServer } from "../support/server.js";

const srv = await startServer({ sandboxes: { maxPerTenant: 3, maxTimeoutMs: 600_000 } });
const { key } = await srv.createKey("interpreter-tenant");
const e2b = { apiUrl: `${srv.url}/e2b`, sandboxUrl: `${srv.url}/e2b`, apiKey: key };
let sandbox: Sandbox;

before(async () => {
  // `base` (python, no data-science libraries): the code interpreter SDK's own default needs isol8:python-data.
  sandbox = await Sandbox.create("base", e2b);
});
// The server's own end (startServer's hook) kills the sandbox with every other.

describe("E2B's code interpreter on isol8", () => {
  test("state across cells, the last expression as the main result, execution counts", async () => {
    const first = await sandbox.runCode("x = 41\nimport sys");
    assert.deepEqual(first.results, []);
    const second = await sandbox.runCode("x + 1");
    assert.equal(second.text, "42");
    assert.equal(second.results[0]?.isMainResult, true);
    assert.ok(
      (second.executionCount ?? 0) > (first.executionCount ?? 0),
      String(second.executionCount),
    );
  });

  test("stdout and stderr stream to the callbacks as they come, and are in the logs", async () => {
    const heard: string[] = [];
    const execution = await sandbox.runCode(
      "import sys, time\nprint('one', flush=True)\nprint('warn', file=sys.stderr, flush=True)\ntime.sleep(0.2)\nprint('two')",
      {
        onStdout: (m) => {
          heard.push(`out:${m.line}`);
        },
        onStderr: (m) => {
          heard.push(`err:${m.line}`);
        },
      },
    );
    assert.deepEqual(execution.logs.stdout.join(""), "one\ntwo\n");
    assert.deepEqual(execution.logs.stderr.join(""), "warn\n");
    assert.deepEqual(heard.join(""), "out:one\nerr:warn\nout:two\n");
  });

  test("an error: its name, value and traceback, and the context lives on", async () => {
    const failed = await sandbox.runCode("def f():\n    return 1 / 0\nf()");
    assert.equal(failed.error?.name, "ZeroDivisionError");
    assert.equal(failed.error?.value, "division by zero");
    assert.match(
      failed.error?.traceback ?? "",
      /Traceback[\s\S]*return 1 \/ 0[\s\S]*ZeroDivisionError/,
    );
    assert.deepEqual(failed.logs.stderr, []);
    assert.equal((await sandbox.runCode("x")).text, "41");
  });

  test("code sees the sandbox's files, and commands see what code wrote", async () => {
    await sandbox.files.write("/home/user/data.txt", "from files");
    assert.equal((await sandbox.runCode("open('data.txt').read()")).text, "'from files'");
    await sandbox.runCode("open('/home/user/made.txt', 'w').write('from code')");
    assert.equal((await sandbox.commands.run("cat made.txt")).stdout, "from code");
  });

  test("contexts: their own state, listed, restarted, removed; bad languages named", async () => {
    const context = await sandbox.createCodeContext({ language: "python" });
    await sandbox.runCode("y = 'own'", { context });
    assert.equal((await sandbox.runCode("y", { context })).text, "'own'");
    const other = await sandbox.runCode("y");
    assert.equal(other.error?.name, "NameError");
    assert.ok((await sandbox.listCodeContexts()).some((c) => c.id === context.id));
    await sandbox.restartCodeContext(context);
    assert.equal((await sandbox.runCode("y", { context })).error?.name, "NameError");
    await sandbox.removeCodeContext(context);
    assert.ok(!(await sandbox.listCodeContexts()).some((c) => c.id === context.id));
    await assert.rejects(sandbox.createCodeContext({ language: "cobol" }), /400/);
    await assert.rejects(sandbox.createCodeContext({ language: "js" }), /400/);
  });

  test("code running when its client gives up is interrupted; the next cell runs", async () => {
    await assert.rejects(
      sandbox.runCode("import time\nwhile True: time.sleep(0.05)", { timeoutMs: 1_000 }),
    );
    assert.equal((await sandbox.runCode("'after'")).text, "'after'");
  });

  test("adversarial: cells sent at once past a context's queue are refused (429), the rest run in order", async () => {
    const context = await sandbox.createCodeContext();
    await sandbox.runCode("done = []", { context });
    const sent = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        sandbox.runCode(`import time\ntime.sleep(0.1)\ndone.append(${i})`, { context }),
      ),
    );
    const refused = sent.filter((s) => s.status === "rejected");
    assert.equal(refused.length, 4);
    for (const r of refused) assert.match(String(r.reason), /429/);
    assert.equal((await sandbox.runCode("len(done)", { context })).text, "8");
    await sandbox.removeCodeContext(context);
  });

  test("adversarial: without the sandbox's token nothing of its interpreter is reached", async () => {
    for (const [method, path] of [
      ["GET", "/contexts"],
      ["POST", "/contexts"],
      ["POST", "/execute"],
    ] as const) {
      const response = await fetch(`${srv.url}/e2b${path}`, {
        method,
        headers: {
          "Content-Type": "application/json",
          "E2b-Sandbox-Id": sandbox.sandboxId,
          "E2b-Sandbox-Port": "49999",
        },
        ...(method === "POST" ? { body: JSON.stringify({ code: "1" }) } : {}),
      });
      assert.equal(response.status, 502, `${method} ${path}`);
    }
  });

  test("adversarial: a kernel a cell ends, or a cell that ignores interrupts, is replaced for the next cell", async () => {
    const exited = await sandbox.runCode("import os\nos._exit(3)");
    assert.equal(exited.error?.name, "ContextError", JSON.stringify(exited.error));
    assert.equal((await sandbox.runCode("'fresh'")).text, "'fresh'");
    await assert.rejects(
      sandbox.runCode(
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: time.sleep(0.05)",
        { timeoutMs: 500 },
      ),
    );
    assert.equal(
      (await sandbox.runCode("'after a stubborn cell'")).text,
      "'after a stubborn cell'",
    );
  });

  test("JavaScript contexts in a node sandbox", async () => {
    const node = await Sandbox.create("node", e2b);
    try {
      await node.runCode("let a = 2", { language: "js" });
      assert.equal((await node.runCode("a * 21", { language: "js" })).text, "42");
      const failed = await node.runCode("undefinedName + 1", { language: "js" });
      assert.equal(failed.error?.name, "ReferenceError", JSON.stringify(failed.error));
    } finally {
      await node.kill();
    }
  });
});

describe("E2B's code interpreter on isol8: its own template, with the data-science image", () => {
  test("a matplotlib figure comes back as a PNG result; pandas and NumPy are there", async () => {
    await ensureDataImage();
    const data = await Sandbox.create(e2b); // the SDK's default template, code-interpreter-v1
    try {
      const plotted = await data.runCode(
        "import matplotlib.pyplot as plt, numpy as np, pandas as pd\nplt.plot(np.arange(5), pd.Series([1, 3, 2, 5, 4]))\nplt.show()\nlen(np.arange(5))",
      );
      assert.equal(plotted.error, undefined, plotted.error?.traceback);
      const png = plotted.results.find((r) => r.png);
      assert.ok(png?.png, JSON.stringify(plotted.results.map((r) => Object.keys(r.raw))));
      assert.equal(Buffer.from(png.png, "base64").subarray(1, 4).toString(), "PNG");
      assert.equal(plotted.text, "5");
    } finally {
      await data.kill();
    }
  });
});
