import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { cleanEnv, isol8 } from "../support/cli.js";
import { containersOf, docker } from "../support/containers.js";
import { eventually } from "../support/eventually.js";

const work = mkdtempSync(join(tmpdir(), "isol8-e2e-"));
function file(name: string, content: string | Buffer): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

describe("isol8 run: input resolution", () => {
  test("the README's first program", async () => {
    const r = await isol8(["run", "-e", "print('hello from the sandbox')"]);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, "hello from the sandbox\n");
    assert.equal(r.code, 0);
  });

  test("the runtime comes from the file extension", async () => {
    const cases: [string, string][] = [
      ["a.py", "print('py')"],
      ["b.js", "console.log('js')"],
      ["c.mjs", "import { sep } from 'node:path'; console.log('mjs', sep)"],
      ["d.cjs", "const { sep } = require('node:path'); console.log('cjs', sep)"],
      [
        "e.ts",
        "const n: number = 1; console.log(typeof Bun !== 'undefined' ? 'bun' : 'not bun', n)",
      ],
      [
        "f.mts",
        "const n: number = 2; console.log(typeof Deno !== 'undefined' ? 'deno' : 'not deno', n)",
      ],
      ["g.sh", "echo sh $BASH_VERSION | cut -c1-4"],
    ];
    const expected = ["py", "js", "mjs /", "cjs /", "bun 1", "deno 2", "sh 5"];
    for (const [index, [name, code]] of cases.entries()) {
      const r = await isol8(["run", file(name, code)]);
      assert.equal(r.stdout.trim(), expected[index], `${name}: ${r.stderr}`);
      assert.equal(r.code, 0);
    }
  });

  test("--runtime overrides the extension", async () => {
    const r = await isol8(["run", "--runtime", "deno", file("h.ts", "console.log(typeof Deno)")]);
    assert.equal(r.stdout, "object\n");
  });

  test("code on stdin defaults to python; --runtime picks another", async () => {
    const py = await isol8(["run"], { input: "print(40 + 2)\n" });
    assert.equal(py.stdout, "42\n");
    const node = await isol8(["run", "--runtime", "node"], { input: "console.log(42)" });
    assert.equal(node.stdout, "42\n");
  });

  test("--eval with another runtime, and --cmd", async () => {
    const r = await isol8(["run", "-e", "console.log(6 * 7)", "-r", "node"]);
    assert.equal(r.stdout, "42\n");
    const cmd = await isol8(["run", "--cmd", "echo $((6 * 7)) && whoami"]);
    assert.equal(cmd.stdout, "42\nsandbox\n");
  });
});

describe("isol8 run: flags and exit codes", () => {
  test("the program's exit code is isol8's", async () => {
    const r = await isol8(["run", "-e", "import sys; sys.exit(3)"]);
    assert.equal(r.code, 3);
  });

  test("--stdin feeds the program", async () => {
    const r = await isol8([
      "run",
      "-e",
      "import sys; print(sys.stdin.read()[::-1])",
      "--stdin",
      "abc",
    ]);
    assert.equal(r.stdout, "cba\n");
  });

  test("--secret reaches the program and is masked in its output", async () => {
    const r = await isol8([
      "run",
      "-e",
      "import os, sys; print(os.environ['KEY']); print('err', os.environ['KEY'], file=sys.stderr)",
      "--runtime",
      "python",
      "--secret",
      "KEY=sk-1234",
    ]);
    assert.equal(r.stdout, "***\n");
    assert.equal(r.stderr, "err ***\n");
    assert.ok(!(r.stdout + r.stderr).includes("sk-1234"));
  });

  test("--timeout kills the run: exit 124 and one line on stderr", async () => {
    const r = await isol8([
      "run",
      "-e",
      "import time; print('start', flush=True); time.sleep(30)",
      "--timeout",
      "1000",
    ]);
    assert.equal(r.code, 124);
    assert.equal(r.stdout, "start\n");
    assert.match(r.stderr, /^isol8: timed out after 1000 ms.*\n$/);
  });

  test("--json: a timed-out run's result says 124, the code isol8 exits with", async () => {
    const r = await isol8([
      "run",
      "--json",
      "-e",
      "import time; time.sleep(30)",
      "--timeout",
      "1000",
    ]);
    assert.equal(r.code, 124);
    const result = JSON.parse(r.stdout) as { exitCode: number; timedOut: boolean };
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, 124);
  });

  test("--memory: an out-of-memory kill is exit 137 with a message", async () => {
    const r = await isol8(["run", "-e", "x = bytearray(400 * 1024 * 1024)", "--memory", "64m"]);
    assert.equal(r.code, 137);
    assert.match(r.stderr, /isol8: out of memory/);
  });

  test("--max-output truncates and says so", async () => {
    const r = await isol8(["run", "-e", "print('y' * 5000)", "--max-output", "100"]);
    assert.equal(r.stdout, "y".repeat(100));
    assert.match(r.stderr, /isol8: output truncated at 100 bytes/);
  });

  test("--no-stream and --out write the same output; --json prints the whole result", async () => {
    const buffered = await isol8(["run", "--no-stream", "-e", "print('one'); print('two')"]);
    assert.equal(buffered.stdout, "one\ntwo\n");
    for (const mode of [[], ["--no-stream"]]) {
      const target = join(work, `out-${mode.length}.txt`);
      const r = await isol8(["run", ...mode, "-e", "print('to the file')", "--out", target]);
      assert.equal(r.stdout, "");
      assert.equal(readFileSync(target, "utf8"), "to the file\n");
    }
    const json = await isol8(["run", "--json", "-e", "print('j')"]);
    const result = JSON.parse(json.stdout);
    assert.equal(result.stdout, "j\n");
    assert.equal(result.exitCode, 0);
    assert.equal(result.runtime, "python");
    assert.equal(typeof result.durationMs, "number");
  });

  test("--writable, --pids-limit, --sandbox-size, --tmp-size and --cpu reach the container", async () => {
    const r = await isol8([
      "run",
      "--cmd",
      "touch /opt/x 2>&1 | grep -c 'Permission denied'; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; df -m /sandbox /tmp | awk 'NR>1 {print $2}'",
      "--writable",
      "--pids-limit",
      "20",
      "--sandbox-size",
      "32m",
      "--tmp-size",
      "16m",
      "--cpu",
      "0.5",
    ]);
    // With a writable root, writing to root-owned /opt still fails for uid 100.
    assert.deepEqual(r.stdout.trim().split("\n"), ["1", "20", "32", "16"]);
  });
});

describe("isol8 run: bad input gets one clear line and a non-zero exit", () => {
  const bad: [string, string[], RegExp, (() => string | Buffer)?][] = [
    [
      "unknown runtime",
      ["run", "-e", "1", "--runtime", "cobol"],
      /--runtime: "cobol" is not one of/,
    ],
    ["missing file", ["run", "/nonexistent/script.py"], /file not found: \/nonexistent\/script.py/],
    [
      "unknown extension",
      ["run", "FILE:notes.txt"],
      /cannot tell the runtime of .*notes.txt.*"\.txt"/,
    ],
    ["bad memory size", ["run", "-e", "1", "--memory", "12xb"], /--memory: "12xb" is not a size/],
    [
      "negative timeout",
      ["run", "-e", "1", "--timeout", "-5"],
      /--timeout: "-5" is not a positive whole number/,
    ],
    [
      "secret without =",
      ["run", "-e", "1", "--secret", "NOEQUALS"],
      /--secret: "NOEQUALS" is not KEY=VALUE/,
    ],
    ["invalid UTF-8 code", ["run", "FILE:bad.py"], /bad\.py is not valid UTF-8 text/],
    [
      "a 50 MB script",
      ["run", "FILE:huge.py"],
      /huge\.py is 52428800 bytes, larger than the limit/,
    ],
    ["unknown flag", ["run", "--tiemout", "5"], /unknown option '--tiemout'/],
    ["bad network", ["run", "-e", "1", "--net", "everything"], /--net: "everything" is not one of/],
  ];
  file("notes.txt", "hello");
  file("bad.py", Buffer.from([0x70, 0x72, 0x69, 0x6e, 0x74, 0xff, 0xfe, 0x0a]));
  file("huge.py", Buffer.alloc(50 * 1024 * 1024, 0x23));

  for (const [name, rawArgs, message] of bad) {
    test(name, async () => {
      const args = rawArgs.map((a) => (a.startsWith("FILE:") ? join(work, a.slice(5)) : a));
      const r = await isol8(args);
      assert.notEqual(r.code, 0);
      assert.equal(r.code, 2);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line, got: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
      assert.equal(r.stdout, "");
      assert.deepEqual(await containersOf(r.pid), [], "no container left behind");
    });
  }

  test("Docker unreachable: one line, exit 125", async () => {
    const r = await isol8(["run", "-e", "print(1)"], {
      env: cleanEnv({ DOCKER_HOST: "unix:///nonexistent/docker.sock" }),
    });
    assert.equal(r.code, 125);
    assert.match(r.stderr, /^isol8: Docker is not reachable .*\n$/);
  });

  test("a missing image says how to build it", async () => {
    const r = await isol8(["run", "-e", "print(1)", "--image", "isol8:does-not-exist"]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /^isol8: image isol8:does-not-exist not found; run `isol8 setup`/);
  });
});

describe("isol8 run: no orphans", () => {
  async function startLongRun(signal: NodeJS.Signals) {
    let pid = 0;
    const running = isol8(["run", "-e", "import time; time.sleep(60)"], {
      onSpawn: (p) => (pid = p),
    });
    assert.ok(
      await eventually(
        async () => pid !== 0 && (await containersOf(pid)).some((c) => c.State === "running"),
      ),
    );
    process.kill(pid, signal);
    return { result: await running, pid };
  }

  test("Ctrl-C (SIGINT) removes the container and exits 130", async () => {
    const { result, pid } = await startLongRun("SIGINT");
    assert.equal(result.code, 130);
    assert.ok(
      await eventually(async () => (await containersOf(pid)).length === 0),
      "container removed",
    );
  });

  test("even a SIGKILLed CLI leaves no container behind", async () => {
    const { result, pid } = await startLongRun("SIGKILL");
    assert.equal(result.signal, "SIGKILL");
    assert.ok(
      await eventually(async () => (await containersOf(pid)).length === 0),
      "container removed",
    );
  });

  test("--persist keeps the container running for debugging", async () => {
    const r = await isol8(["run", "--persist", "-e", "print('kept')"]);
    assert.equal(r.stdout, "kept\n");
    const [kept] = await containersOf(r.pid);
    try {
      assert.equal(kept?.State, "running");
    } finally {
      if (kept) await docker.getContainer(kept.Id).remove({ force: true });
    }
  });
});

describe("isol8 run --setup", () => {
  test("commands and files run in order before the program; a failure stops it with the setup's exit code", async () => {
    const script = file("setup.sh", "echo from-file >> /sandbox/log\n");
    const ok = await isol8([
      "run",
      "--setup",
      "echo from-command > /sandbox/log",
      "--setup",
      script,
      "-e",
      "print(open('/sandbox/log').read(), end='')",
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "from-command\nfrom-file\n");
    const failed = await isol8(["run", "--setup", "exit 5", "-e", "print('never')"]);
    assert.equal(failed.code, 5);
    assert.equal(failed.stdout, "");
    assert.match(failed.stderr, /isol8: setup script failed \(exit 5\); the program did not run/);
  });
});
