// Every byte isol8 prints reaches the reader, whatever stdout and stderr are
// connected to. The readers here are slow on purpose: they read nothing until
// the CLI has exited (or a few seconds have passed), which is when an exit
// that does not wait for its pipes loses what the kernel's pipe buffer (64 KB)
// could not hold.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { describe, test } from "node:test";
import { CLI, cleanEnv } from "../support/cli.js";

const SIZE = 1_000_000;
/** A program writing SIZE bytes of `o` to stdout and of `e` to stderr, with no newline (a TTY would rewrite those). */
const BOTH = `import sys; sys.stdout.write("o" * ${SIZE}); sys.stdout.flush(); sys.stderr.write("e" * ${SIZE})`;
const RUN = ["run", "--max-output", String(SIZE), "-e", BOTH];

/** Holds a stream unread until `start` resolves, then collects all of it. */
function readLate(stream: Readable, start: Promise<unknown>): Promise<string> {
  stream.pause();
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    void start.then(() => {
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.resume();
    });
    stream.on("end", () => resolve(Buffer.concat(chunks).toString()));
  });
}

/** Runs `command` with both outputs on pipes that nobody reads until it exited (or 3 s passed). */
async function slowPipes(command: string, args: string[]) {
  const child = spawn(command, args, { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const start = Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
  const [stdout, stderr] = await Promise.all([
    readLate(child.stdout, start),
    readLate(child.stderr, start),
  ]);
  const code = await new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once("close", resolve);
  });
  return { code, stdout, stderr };
}

/** How many times `char` occurs in `text`. */
function count(text: string, char: string): number {
  return text.split(char).length - 1;
}

describe("isol8 run: nothing printed is lost when the CLI exits", () => {
  test("pipes read late get all of a large stdout and stderr, streamed or buffered", async () => {
    for (const mode of [[], ["--no-stream"]]) {
      const r = await slowPipes(process.execPath, [CLI, ...RUN, ...mode]);
      assert.equal(r.code, 0, r.stderr.slice(-300));
      assert.equal(r.stdout.length, SIZE, `stdout ${mode.join(" ")}`);
      assert.equal(count(r.stdout, "o"), SIZE);
      assert.equal(r.stderr.length, SIZE, `stderr ${mode.join(" ")}`);
      assert.equal(count(r.stderr, "e"), SIZE);
    }
  });

  test("a program that fails (exit 7) after a large stderr: all of it reaches a late reader", async () => {
    const big = `import sys; sys.stderr.write("e" * ${SIZE}); raise SystemExit(7)`;
    const r = await slowPipes(process.execPath, [CLI, "run", "-e", big, "--timeout", "20000"]);
    assert.equal(r.code, 7);
    assert.equal(r.stderr.length, SIZE);
  });

  test("files get all of it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "isol8-output-"));
    const outPath = join(dir, "out");
    const errPath = join(dir, "err");
    const out = openSync(outPath, "w");
    const err = openSync(errPath, "w");
    const r = spawnSync(process.execPath, [CLI, ...RUN], {
      env: cleanEnv(),
      stdio: ["ignore", out, err],
    });
    closeSync(out);
    closeSync(err);
    assert.equal(r.status, 0, readFileSync(errPath, "utf8").slice(-300));
    assert.equal(count(readFileSync(outPath, "utf8"), "o"), SIZE);
    assert.equal(count(readFileSync(errPath, "utf8"), "e"), SIZE);
  });

  const noScript =
    spawnSync("script", ["--version"]).error !== undefined &&
    "util-linux `script` is not installed: it provides the pseudo-terminal for this test";
  test("a terminal (a pseudo-terminal from util-linux `script`) read late gets all of it", {
    skip: noScript,
  }, async () => {
    // `script` runs the CLI on a pseudo-terminal and copies what the terminal shows to its own stdout.
    const line = [process.execPath, CLI, ...RUN].map((arg) => `'${arg.replace(/'/g, "'\\''")}'`);
    const r = await slowPipes("script", ["-q", "-e", "-c", line.join(" "), "/dev/null"]);
    assert.equal(r.code, 0, r.stdout.slice(-300));
    assert.equal(count(r.stdout, "o"), SIZE);
    assert.equal(count(r.stdout, "e"), SIZE);
  });
});
