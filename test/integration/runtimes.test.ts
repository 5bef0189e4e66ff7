import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Runtime } from "../../src/types.js";
import { collectStream, engine } from "../support/engine.js";

/** The same small programs in every runtime's own language. */
const PROGRAMS: Record<
  Runtime,
  { hello: string; echoStdin: string; exit: string; stderr: string; env: string; ticks: string }
> = {
  python: {
    hello: 'print("hello from python")',
    echoStdin: "import sys\nprint(sys.stdin.read().upper(), end='')",
    exit: "import sys\nsys.exit(42)",
    stderr: 'import sys\nprint("to stderr", file=sys.stderr)',
    env: 'import os\nprint(os.environ["GREETING"])',
    ticks: "import time\nfor i in range(3):\n    print(f'tick {i}')\n    time.sleep(0.4)",
  },
  node: {
    hello: 'console.log("hello from node")',
    echoStdin:
      'let s = ""; process.stdin.on("data", (d) => (s += d)); process.stdin.on("end", () => process.stdout.write(s.toUpperCase()));',
    exit: "process.exit(42)",
    stderr: 'console.error("to stderr")',
    env: "console.log(process.env.GREETING)",
    ticks:
      "for (let i = 0; i < 3; i++) { console.log(`tick ${i}`); await new Promise((r) => setTimeout(r, 400)); }",
  },
  bun: {
    hello: 'const who: string = "bun"; console.log(`hello from ${who}`)',
    echoStdin: "const s: string = await Bun.stdin.text(); process.stdout.write(s.toUpperCase());",
    exit: "process.exit(42)",
    stderr: 'console.error("to stderr")',
    env: "console.log(process.env.GREETING)",
    ticks: "for (let i = 0; i < 3; i++) { console.log(`tick ${i}`); await Bun.sleep(400); }",
  },
  deno: {
    hello: 'const who: string = "deno"; console.log(`hello from ${who}`)',
    echoStdin:
      "const s: string = await new Response(Deno.stdin.readable).text(); await Deno.stdout.write(new TextEncoder().encode(s.toUpperCase()));",
    exit: "Deno.exit(42)",
    stderr: 'console.error("to stderr")',
    env: 'console.log(Deno.env.get("GREETING"))',
    ticks:
      "for (let i = 0; i < 3; i++) { console.log(`tick ${i}`); await new Promise((r) => setTimeout(r, 400)); }",
  },
  bash: {
    hello: "echo hello from bash",
    echoStdin: "tr a-z A-Z",
    exit: "exit 42",
    stderr: "echo to stderr >&2",
    env: 'echo "$GREETING"',
    ticks: 'for i in 0 1 2; do echo "tick $i"; sleep 0.4; done',
  },
};

for (const [runtime, program] of Object.entries(PROGRAMS) as [
  Runtime,
  (typeof PROGRAMS)[Runtime],
][]) {
  describe(`${runtime} runtime`, () => {
    const isol8 = engine();

    test("runs hello world", async () => {
      const result = await isol8.execute({ runtime, code: program.hello });
      assert.equal(result.stderr, "");
      assert.equal(result.stdout, `hello from ${runtime}\n`);
      assert.equal(result.exitCode, 0);
      assert.equal(result.runtime, runtime);
      assert.equal(result.timedOut, false);
      assert.match(result.executionId, /^[0-9a-f-]{36}$/);
    });

    test("reads stdin", async () => {
      const result = await isol8.execute({
        runtime,
        code: program.echoStdin,
        stdin: "some input\nline two\n",
      });
      assert.equal(result.stdout, "SOME INPUT\nLINE TWO\n");
    });

    test("reports the program's exit code", async () => {
      const result = await isol8.execute({ runtime, code: program.exit });
      assert.equal(result.exitCode, 42);
    });

    test("separates stderr from stdout", async () => {
      const result = await isol8.execute({ runtime, code: program.stderr });
      assert.equal(result.stdout, "");
      assert.match(result.stderr, /to stderr\n$/);
    });

    test("passes environment variables", async () => {
      const result = await isol8.execute({
        runtime,
        code: program.env,
        env: { GREETING: "hi there" },
      });
      assert.equal(result.stdout, "hi there\n");
    });

    test("streams output as it is produced, in order", async () => {
      const events = await collectStream(isol8, { runtime, code: program.ticks });
      const output = events.filter((e) => e.event.type === "stdout");
      assert.equal(output.map((e) => e.event.data).join(""), "tick 0\ntick 1\ntick 2\n");
      // The first tick arrives long before the last: it was streamed, not buffered.
      const first = output.find((e) => e.event.data.includes("tick 0"));
      const last = output.find((e) => e.event.data.includes("tick 2"));
      assert.ok(
        first && last && last.at - first.at > 500,
        `first at ${first?.at}, last at ${last?.at}`,
      );
      const exit = events.at(-1)?.event;
      assert.equal(exit?.type, "exit");
      assert.equal(exit?.data, "0");
    });
  });
}
