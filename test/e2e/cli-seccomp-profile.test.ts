// `isol8 run` with a custom seccomp profile that is not one: the error names
// the file and the problem, never the file's content.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isol8 } from "../support/cli.js";

test("an invalid --seccomp-profile file is exit 2 with its path, without its content", async () => {
  const dir = mkdtempSync(join(tmpdir(), "isol8-seccomp-file-"));
  const file = join(dir, "not-a-profile");
  writeFileSync(file, "root:x:0:0:local-secret-line\n");
  const r = await isol8(["run", "--seccomp", "custom", "--seccomp-profile", file, "-e", "1"]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr, `isol8: --seccomp-profile: ${file} is not valid JSON\n`);
});
