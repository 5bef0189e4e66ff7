// The code generated from proto/envd/ (npm run generate:envd) is what is
// committed: a change to a .proto file without regenerating fails here.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

const COMMITTED = "src/e2b/envd/gen";

test("src/e2b/envd/gen/ is what buf generates from proto/envd/", () => {
  const out = mkdtempSync(join(tmpdir(), "isol8-envd-gen-"));
  try {
    execFileSync(
      "node_modules/.bin/buf",
      ["generate", "proto", "--template", "proto/buf.gen.yaml", "--output", out],
      { env: { ...process.env, PATH: `${process.cwd()}/node_modules/.bin:${process.env.PATH}` } },
    );
    const generated = join(out, COMMITTED, "envd");
    const names = readdirSync(generated).sort();
    assert.deepEqual(names, readdirSync(join(COMMITTED, "envd")).sort());
    for (const name of names)
      assert.equal(
        readFileSync(join(COMMITTED, "envd", name), "utf8"),
        readFileSync(join(generated, name), "utf8"),
        `${name} differs from what buf generates: run npm run generate:envd`,
      );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
