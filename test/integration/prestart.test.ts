// Prestarted interpreters: a warm run of `code` goes to an interpreter the
// supervisor started while the container was idle (sandbox/bootstrap/). It
// must behave exactly as running the file directly, and must be the
// prestarted process (started before the request was sent), not a new one.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { DockerIsol8 } from "../../src/engine/docker-isol8.js";
import type { ExecutionRequest, ExecutionResult } from "../../src/types.js";
import { collectStream, engine } from "../support/engine.js";
import { pause } from "../support/eventually.js";

/** Long enough for the last run's wipe and the next interpreter's start-up. */
const IDLE_MS = 400;
/** /proc/self/stat and /proc/uptime count in 10 ms steps. */
const CLOCK_SLACK_MS = 25;

/**
 * Runs `request` after the container has been idle, and returns the result
 * with the host's wall time of the call. Programs print, as their last line
 * of stdout, how long their own process had existed (see the AGE snippets).
 */
async function runIdle(
  isol8: DockerIsol8,
  request: ExecutionRequest,
): Promise<ExecutionResult & { elapsedMs: number; ageMs: number; lines: string[] }> {
  await pause(IDLE_MS);
  const started = performance.now();
  const result = await isol8.execute(request);
  const elapsedMs = performance.now() - started;
  const lines = result.stdout.trimEnd().split("\n");
  const ageMs = Number(lines.at(-1));
  return { ...result, elapsedMs, ageMs, lines: lines.slice(0, -1) };
}

/** The interpreter process existed before the request was sent: the prestarted one. */
function assertPrestarted(run: { elapsedMs: number; ageMs: number; stderr: string }): void {
  assert.ok(Number.isFinite(run.ageMs), `no age printed; stderr: ${run.stderr}`);
  assert.ok(
    run.ageMs > run.elapsedMs + CLOCK_SLACK_MS,
    `the interpreter is ${run.ageMs} ms old but the request was sent ${run.elapsedMs.toFixed(1)} ms ago`,
  );
}

/** The interpreter process was started for this request. */
function assertCold(run: { elapsedMs: number; ageMs: number; stderr: string }): void {
  assert.ok(Number.isFinite(run.ageMs), `no age printed; stderr: ${run.stderr}`);
  assert.ok(
    run.ageMs < run.elapsedMs + CLOCK_SLACK_MS,
    `the interpreter is ${run.ageMs} ms old, older than the request (${run.elapsedMs.toFixed(1)} ms)`,
  );
}

/** Python: prints the process's age in ms (to be the last line of stdout). */
const AGE_PY = `
def _isol8_age_ms():
    import os
    with open("/proc/self/stat") as f:
        start = int(f.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime") as f:
        return round((float(f.read().split()[0]) - start) * 1000)
`;
const PRINT_AGE_PY = "print(_isol8_age_ms())";

/** Node: the same, for ES modules and CommonJS alike. */
const AGE_JS = `
const _isol8AgeMs = () => {
  const fs = process.getBuiltinModule("node:fs");
  const stat = fs.readFileSync("/proc/self/stat", "utf8");
  const start = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]) / 100;
  return Math.round((Number(fs.readFileSync("/proc/uptime", "utf8").split(" ")[0]) - start) * 1000);
};
`;
const PRINT_AGE_JS = "console.log(_isol8AgeMs());";

const PYTHON_ENV = {
  PATH: "/usr/local/bin:/usr/bin:/bin",
  HOME: "/sandbox",
  LANG: "C.UTF-8",
  TMPDIR: "/tmp",
  PYTHONUNBUFFERED: "1",
  PYTHONDONTWRITEBYTECODE: "1",
};
const NODE_ENV = {
  PATH: "/usr/local/bin:/usr/bin:/bin",
  HOME: "/sandbox",
  LANG: "C.UTF-8",
  TMPDIR: "/tmp",
};

describe("prestarted python", () => {
  const isol8 = engine();

  test("runs the file as __main__ with the argv, path, cwd and environment of python3 main.py", async () => {
    await isol8.execute({ runtime: "python", code: "pass" }); // the pool's first container
    const run = await runIdle(isol8, {
      runtime: "python",
      // TMPDIR is in the bootstrap's environment too; the request's value wins.
      env: { FOO: "bar", TMPDIR: "/tmp/mine" },
      code: `"""the docstring"""
${AGE_PY}
import json, os, subprocess, sys
import __main__
print(json.dumps({
    "name": __name__, "file": __file__, "doc": __doc__, "argv": sys.argv,
    "orig_argv": sys.orig_argv, "path0": sys.path[0], "cwd": os.getcwd(),
    "env": dict(os.environ), "main_is_me": __main__.__dict__ is globals(),
    "spec": repr(__spec__), "cached": __cached__, "loader": type(__loader__).__name__,
    "child_env": subprocess.run(["sh", "-c", "echo $FOO-$PYTHONUNBUFFERED"],
                                capture_output=True, text=True).stdout.strip(),
    "unbuffered": not sys.stdout.line_buffering and sys.stdout.write_through,
    "dont_write_bytecode": sys.dont_write_bytecode,
}))
${PRINT_AGE_PY}`,
    });
    assert.equal(run.exitCode, 0, run.stderr);
    assertPrestarted(run);
    const facts = JSON.parse(run.lines[0] ?? "");
    assert.deepEqual(facts, {
      name: "__main__",
      file: "/sandbox/main.py",
      doc: "the docstring",
      argv: ["/sandbox/main.py"],
      orig_argv: ["python3", "/sandbox/main.py"],
      path0: "/sandbox",
      cwd: "/sandbox",
      env: { ...PYTHON_ENV, TMPDIR: "/tmp/mine", FOO: "bar" },
      main_is_me: true,
      spec: "None",
      cached: null,
      loader: "SourceFileLoader",
      child_env: "bar-1",
      unbuffered: true,
      dont_write_bytecode: true,
    });
  });

  test("a traceback names the program's file and line, with no bootstrap frame; exit code 1", async () => {
    const code = `${AGE_PY}${PRINT_AGE_PY}
def fail():
    raise ValueError("boom")
fail()
`;
    const lineOf = (text: string) => code.split("\n").indexOf(text) + 1;
    const run = await runIdle(isol8, { runtime: "python", code });
    assert.equal(run.exitCode, 1);
    assertPrestarted(run);
    assert.equal(
      run.stderr,
      [
        "Traceback (most recent call last):",
        `  File "/sandbox/main.py", line ${lineOf("fail()")}, in <module>`,
        "    fail()",
        `  File "/sandbox/main.py", line ${lineOf('    raise ValueError("boom")')}, in fail`,
        '    raise ValueError("boom")',
        "ValueError: boom",
        "",
      ].join("\n"),
    );
  });

  test("a syntax error is reported as python3 reports it", async () => {
    await pause(IDLE_MS);
    const result = await isol8.execute({ runtime: "python", code: "x = 1\nprint(\n" });
    assert.equal(result.exitCode, 1);
    assert.match(result.stderr, /^ {2}File "\/sandbox\/main\.py", line 2\n/);
    assert.match(result.stderr, /SyntaxError: '\(' was never closed\n$/);
    assert.doesNotMatch(result.stderr, /Traceback|isol8|runpy|frozen/);
  });

  test("sys.exit codes are honoured, and atexit handlers run", async () => {
    const run = await runIdle(isol8, {
      runtime: "python",
      code: `${AGE_PY}import atexit, sys
atexit.register(lambda: print("atexit ran"))
${PRINT_AGE_PY}
sys.exit(3)`,
    });
    assert.equal(run.exitCode, 3);
    assert.equal(run.stderr, "");
    assert.equal(run.stdout.trimEnd().split("\n").at(-1), "atexit ran");
    await pause(IDLE_MS);
    const message = await isol8.execute({ runtime: "python", code: 'raise SystemExit("bye")' });
    assert.equal(message.exitCode, 1);
    assert.equal(message.stderr, "bye\n");
  });

  test("stdin reaches the program", async () => {
    const run = await runIdle(isol8, {
      runtime: "python",
      stdin: "line one\nline two\n",
      code: `${AGE_PY}import sys
print(sys.stdin.read().upper(), end="")
${PRINT_AGE_PY}`,
    });
    assert.equal(run.exitCode, 0, run.stderr);
    assertPrestarted(run);
    assert.deepEqual(run.lines, ["LINE ONE", "LINE TWO"]);
  });

  test("output streams as it is printed", async () => {
    await pause(IDLE_MS);
    const events = await collectStream(isol8, {
      runtime: "python",
      code: 'import sys, time\nprint("first")\nprint("err", file=sys.stderr)\ntime.sleep(0.6)\nprint("second")',
    });
    const exit = events.at(-1);
    assert.equal(exit?.event.type, "exit");
    const early = events.filter((e) => (exit?.at ?? 0) - e.at > 400);
    const text = (type: string) =>
      early
        .filter((e) => e.event.type === type)
        .map((e) => e.event.data)
        .join("");
    assert.equal(text("stdout"), "first\n", "the first line arrived well before the program ended");
    assert.equal(text("stderr"), "err\n");
  });

  test("a run that sets PYTHONPATH starts its own interpreter and sees it", async () => {
    const run = await runIdle(isol8, {
      runtime: "python",
      env: { PYTHONPATH: "/sandbox/lib" },
      code: `${AGE_PY}import os, sys
print("/sandbox/lib" in sys.path, os.environ["PYTHONPATH"])
${PRINT_AGE_PY}`,
    });
    assert.equal(run.exitCode, 0, run.stderr);
    assertCold(run);
    assert.deepEqual(run.lines, ["True /sandbox/lib"]);
  });

  test("a timeout kills the prestarted program, and the next run is prestarted again", async () => {
    await pause(IDLE_MS);
    const spin = await isol8.execute({
      runtime: "python",
      code: "while True: pass",
      timeoutMs: 700,
    });
    assert.equal(spin.timedOut, true);
    const run = await runIdle(isol8, { runtime: "python", code: `${AGE_PY}${PRINT_AGE_PY}` });
    assert.equal(run.exitCode, 0, run.stderr);
    assertPrestarted(run);
  });

  test("a `cmd` run on the same engine runs the command, not the interpreter", async () => {
    await pause(IDLE_MS);
    const result = await isol8.execute({
      runtime: "python",
      cmd: 'echo "$0 $(readlink /proc/$$/exe)"',
    });
    assert.equal(result.stdout, "bash /usr/bin/bash\n");
  });
});

describe("prestarted python: reuse isolation", () => {
  test("the next run on a reused container sees no file, process or variable of the last", async () => {
    const isol8 = engine({ poolStrategy: "fast", poolSize: { clean: 1, dirty: 1 } });
    await isol8.execute({ runtime: "python", code: "pass" });
    const first = await runIdle(isol8, {
      runtime: "python",
      env: { LEFTOVER: "from-run-1" },
      code: `${AGE_PY}import os, subprocess
open("/sandbox/left.txt", "w").write("secret")
os.makedirs("/sandbox/d/e"); os.chmod("/sandbox/d", 0)
open("/tmp/left.txt", "w").write("temp")
os.environ["SET_AT_RUN_TIME"] = "1"
import builtins; builtins.LEFT_IN_BUILTINS = 1
subprocess.Popen(["setsid", "bash", "-c", "exec -a isol8-prestart-marker sleep 1000"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
${PRINT_AGE_PY}`,
    });
    assert.equal(first.exitCode, 0, first.stderr);
    assertPrestarted(first);
    const second = await runIdle(isol8, {
      runtime: "python",
      code: `${AGE_PY}import builtins, os
print(sorted(os.listdir("/sandbox")), sorted(os.listdir("/tmp")))
found = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        found += b"isol8-prestart-marker" in open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        pass
print(found, os.environ.get("LEFTOVER"), os.environ.get("SET_AT_RUN_TIME"),
      hasattr(builtins, "LEFT_IN_BUILTINS"))
${PRINT_AGE_PY}`,
    });
    assert.equal(second.containerId, first.containerId, "the container was reused");
    assertPrestarted(second);
    assert.deepEqual(second.lines, ["['main.py'] []", "0 None None False"]);
  });
});

describe("prestarted node", () => {
  const isol8 = engine();

  test("an ES module: process.argv, import.meta and the environment of node main.mjs", async () => {
    await isol8.execute({ runtime: "node", code: "// the pool's first container" });
    const run = await runIdle(isol8, {
      runtime: "node",
      env: { FOO: "bar" },
      code: `${AGE_JS}
import { execFileSync } from "node:child_process";
console.log(JSON.stringify({
  argv: process.argv, argv0: process.argv0, execArgv: process.execArgv,
  url: import.meta.url, filename: import.meta.filename, main: import.meta.main,
  mainModule: process.mainModule === undefined, cwd: process.cwd(), env: process.env,
  child: execFileSync("sh", ["-c", "echo $FOO"], { encoding: "utf8" }).trim(),
}));
${PRINT_AGE_JS}`,
    });
    assert.equal(run.exitCode, 0, run.stderr);
    assertPrestarted(run);
    assert.deepEqual(JSON.parse(run.lines[0] ?? ""), {
      argv: ["/usr/local/bin/node", "/sandbox/main.mjs"],
      argv0: "node",
      execArgv: [],
      url: "file:///sandbox/main.mjs",
      filename: "/sandbox/main.mjs",
      main: true,
      mainModule: true,
      cwd: "/sandbox",
      env: { ...NODE_ENV, FOO: "bar" },
      child: "bar",
    });
  });

  test("CommonJS: require works, the file is the main module", async () => {
    const run = await runIdle(isol8, {
      runtime: "node",
      fileExtension: ".cjs",
      code: `${AGE_JS}
const path = require("node:path");
console.log(JSON.stringify({
  argv: process.argv, filename: __filename, dirname: __dirname, main: require.main === module,
  mainModule: process.mainModule === module, cache: Object.keys(require.cache),
  joined: path.join("a", "b"), env: process.env,
}));
${PRINT_AGE_JS}`,
    });
    assert.equal(run.exitCode, 0, run.stderr);
    assertPrestarted(run);
    assert.deepEqual(JSON.parse(run.lines[0] ?? ""), {
      argv: ["/usr/local/bin/node", "/sandbox/main.cjs"],
      filename: "/sandbox/main.cjs",
      dirname: "/sandbox",
      main: true,
      mainModule: true,
      cache: ["/sandbox/main.cjs"],
      joined: "a/b",
      env: NODE_ENV,
    });
  });

  test("uncaught errors print the stack with the file name and exit 1", async () => {
    await pause(IDLE_MS);
    const esm = await isol8.execute({
      runtime: "node",
      code: 'console.log("x");\nthrow new Error("boom-esm");',
    });
    assert.equal(esm.exitCode, 1);
    assert.equal(esm.stdout, "x\n");
    assert.match(esm.stderr, /^file:\/\/\/sandbox\/main\.mjs:2\n/);
    assert.match(esm.stderr, /Error: boom-esm\n {4}at file:\/\/\/sandbox\/main\.mjs:2:7/);
    await pause(IDLE_MS);
    const cjs = await isol8.execute({
      runtime: "node",
      fileExtension: ".cjs",
      code: 'require("node:fs");\nthrow new TypeError("boom-cjs");',
    });
    assert.equal(cjs.exitCode, 1);
    assert.match(cjs.stderr, /^\/sandbox\/main\.cjs:2\n/);
    assert.match(
      cjs.stderr,
      /TypeError: boom-cjs\n {4}at Object\.<anonymous> \(\/sandbox\/main\.cjs:2:7\)/,
    );
    await pause(IDLE_MS);
    const rejected = await isol8.execute({
      runtime: "node",
      code: "await Promise.reject(new RangeError('late'));",
    });
    assert.equal(rejected.exitCode, 1);
    assert.match(rejected.stderr, /RangeError: late\n {4}at file:\/\/\/sandbox\/main\.mjs:1:22/);
    await pause(IDLE_MS);
    const exit = await isol8.execute({ runtime: "node", code: "process.exitCode = 3;" });
    assert.equal(exit.exitCode, 3);
  });

  test("stdin reaches the program", async () => {
    const run = await runIdle(isol8, {
      runtime: "node",
      stdin: "abc\n",
      code: `${AGE_JS}
let text = "";
for await (const chunk of process.stdin) text += chunk;
process.stdout.write(text.toUpperCase());
${PRINT_AGE_JS}`,
    });
    assert.equal(run.exitCode, 0, run.stderr);
    assertPrestarted(run);
    assert.deepEqual(run.lines, ["ABC"]);
  });

  test("a run that sets NODE_OPTIONS starts its own node and gets the option", async () => {
    const run = await runIdle(isol8, {
      runtime: "node",
      env: { NODE_OPTIONS: "--max-old-space-size=123" },
      code: `${AGE_JS}
import v8 from "node:v8";
console.log(Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20) <= 130);
${PRINT_AGE_JS}`,
    });
    assert.equal(run.exitCode, 0, run.stderr);
    assertCold(run);
    assert.deepEqual(run.lines, ["true"]);
  });
});

describe("prestarted interpreters: networked engines", () => {
  test("a filtered engine's node runs use the prestarted interpreter, with the proxy variables it read at start-up", async () => {
    const isol8 = engine({ network: "filtered", networkFilter: { whitelist: [] } });
    await isol8.execute({ runtime: "node", code: "// the pool's first container" });
    const run = await runIdle(isol8, {
      runtime: "node",
      code: `${AGE_JS}
console.log(JSON.stringify([process.env.NODE_USE_ENV_PROXY, process.env.HTTPS_PROXY]));
${PRINT_AGE_JS}`,
    });
    assert.equal(run.exitCode, 0, run.stderr);
    assertPrestarted(run);
    assert.deepEqual(JSON.parse(run.lines[0] ?? ""), ["1", "http://127.0.0.1:3128"]);
  });
});

describe("prestarted interpreters: persistent sessions", () => {
  test("a FIFO left at the program's path times the run out, as before, and hangs nothing", async () => {
    const isol8 = engine({ mode: "persistent" });
    const plant = await isol8.execute({
      runtime: "python",
      code: 'import os\nos.unlink("/sandbox/main.py")\nos.mkfifo("/sandbox/main.py")',
    });
    assert.equal(plant.exitCode, 0, plant.stderr);
    await pause(IDLE_MS);
    const blocked = await isol8.execute({ runtime: "python", code: "print(1)", timeoutMs: 800 });
    assert.equal(blocked.timedOut, true);
    const cleanup = await isol8.execute({
      runtime: "python",
      cmd: "rm /sandbox/main.py && echo gone",
    });
    assert.equal(cleanup.stdout, "gone\n");
    const run = await runIdle(isol8, { runtime: "python", code: `${AGE_PY}${PRINT_AGE_PY}` });
    assert.equal(run.exitCode, 0, run.stderr);
    assertPrestarted(run);
  });

  test("a persistent session's runs are prestarted too, and keep their files", async () => {
    const isol8 = engine({ mode: "persistent" });
    const first = await isol8.execute({
      runtime: "python",
      code: 'open("/sandbox/kept.txt", "w").write("kept")',
    });
    assert.equal(first.exitCode, 0, first.stderr);
    const run = await runIdle(isol8, {
      runtime: "python",
      code: `${AGE_PY}print(open("/sandbox/kept.txt").read())
${PRINT_AGE_PY}`,
    });
    assert.equal(run.exitCode, 0, run.stderr);
    assertPrestarted(run);
    assert.deepEqual(run.lines, ["kept"]);
  });
});
