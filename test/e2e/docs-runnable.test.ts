// Runs every code block the documentation marks as runnable (```sh runnable, or
// ```sh runnable exit=N for an expected exit code other than 0) with the built
// `isol8` on PATH, and checks that each line of a ```text block right after it
// appears in what the commands printed. Documentation that drifts from the tool fails here.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CLI, cleanEnv } from "../support/cli.js";

const ROOT = new URL("../../", import.meta.url).pathname;

interface RunnableBlock {
  file: string;
  line: number;
  script: string;
  exitCode: number;
  expected: string[];
}

/** The runnable blocks of one Markdown file, with the output block that follows each. */
export function runnableBlocks(file: string, text: string): RunnableBlock[] {
  const blocks: RunnableBlock[] = [];
  const fence = /^```([^\n]*)\n([\s\S]*?)^```[ \t]*$/gm;
  const all = [...text.matchAll(fence)].map((m) => ({
    info: (m[1] ?? "").trim(),
    body: m[2] ?? "",
    start: m.index ?? 0,
    end: (m.index ?? 0) + m[0].length,
  }));
  for (const [i, block] of all.entries()) {
    const words = block.info.split(/\s+/);
    if (words[0] !== "sh" || !words.includes("runnable")) continue;
    const exit = words.find((w) => w.startsWith("exit="));
    const next = all[i + 1];
    const adjacent =
      next && text.slice(block.end, next.start).trim() === "" && next.info === "text";
    blocks.push({
      file,
      line: text.slice(0, block.start).split("\n").length,
      script: block.body,
      exitCode: exit ? Number(exit.slice(5)) : 0,
      expected: adjacent ? next.body.split("\n").filter((l) => l.trim() !== "") : [],
    });
  }
  return blocks;
}

function documentation(): { file: string; text: string }[] {
  const files = [
    "README.md",
    "SECURITY.md",
    ...readdirSync(join(ROOT, "docs")).map((f) => join("docs", f)),
  ];
  return files
    .filter((f) => f.endsWith(".md"))
    .map((file) => ({ file, text: readFileSync(join(ROOT, file), "utf8") }));
}

/** A PATH whose `isol8` is the built CLI, as `npm link` would provide. */
function pathWithIsol8(): string {
  const bin = mkdtempSync(join(tmpdir(), "isol8-docs-bin-"));
  const wrapper = join(bin, "isol8");
  writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(wrapper, 0o755);
  return `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`;
}

describe("runnable documentation", () => {
  const blocks = documentation().flatMap(({ file, text }) => runnableBlocks(file, text));

  test("the documentation has runnable blocks, and the scanner finds marked blocks only", () => {
    assert.ok(blocks.length >= 5, `found ${blocks.length}`);
    const sample =
      "```sh\nnot this\n```\n\n```sh runnable exit=3\necho a\n```\n\n```text\na\n```\n";
    assert.deepEqual(runnableBlocks("x.md", sample), [
      { file: "x.md", line: 5, script: "echo a\n", exitCode: 3, expected: ["a"] },
    ]);
  });

  const PATH = pathWithIsol8();
  for (const block of blocks) {
    test(`${block.file}:${block.line}`, () => {
      const cwd = mkdtempSync(join(tmpdir(), "isol8-docs-"));
      const run = spawnSync("bash", ["-c", block.script], {
        cwd,
        env: cleanEnv({ PATH }),
        encoding: "utf8",
        timeout: 120_000,
      });
      const output = `${run.stdout}${run.stderr}`;
      assert.equal(run.status, block.exitCode, `${block.script}\n${output}`);
      const lines = output.split("\n");
      for (const expected of block.expected)
        assert.ok(
          lines.includes(expected),
          `expected the line ${JSON.stringify(expected)} in:\n${output}`,
        );
    });
  }
});
