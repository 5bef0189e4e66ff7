import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type CodeSources, resolveCodeInput } from "../../src/cli/code-input.js";

const dir = mkdtempSync(join(tmpdir(), "isol8-input-"));
const noStdin: Pick<CodeSources, "readStdin" | "stdinIsTerminal"> = {
  readStdin: async () => Buffer.from(""),
  stdinIsTerminal: true,
};

test("--eval defaults to python, --runtime overrides", async () => {
  assert.deepEqual(await resolveCodeInput({ ...noStdin, eval: "print(1)" }), {
    code: "print(1)",
    runtime: "python",
  });
  assert.deepEqual(await resolveCodeInput({ ...noStdin, eval: "1", runtime: "node" }), {
    code: "1",
    runtime: "node",
  });
});

test("a file's extension picks the runtime and is kept when the runtime accepts it", async () => {
  const expected: Record<string, string> = {
    ".py": "python",
    ".js": "node",
    ".mjs": "node",
    ".cjs": "node",
    ".ts": "bun",
    ".mts": "deno",
    ".sh": "bash",
  };
  for (const [ext, runtime] of Object.entries(expected)) {
    const path = join(dir, `x${ext}`);
    writeFileSync(path, "code");
    assert.deepEqual(await resolveCodeInput({ ...noStdin, file: path }), {
      code: "code",
      runtime,
      fileExtension: ext,
    });
  }
  const ts = join(dir, "y.ts");
  writeFileSync(ts, "code");
  assert.deepEqual(await resolveCodeInput({ ...noStdin, file: ts, runtime: "python" }), {
    code: "code",
    runtime: "python",
  });
});

test("stdin is read only when there is no --eval and no file, and defaults to python", async () => {
  const input = await resolveCodeInput({
    readStdin: async () => Buffer.from("print(2)"),
    stdinIsTerminal: false,
  });
  assert.deepEqual(input, { code: "print(2)", runtime: "python" });
  await assert.rejects(resolveCodeInput(noStdin), /no code to run/);
});
