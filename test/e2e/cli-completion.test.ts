// `isol8 completion` as a user runs it: the built CLI prints the script for
// its own command tree, which a new bash loads and completes with.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { isol8 } from "../support/cli.js";

describe("isol8 completion", () => {
  test("bash: the printed script completes the built CLI's commands and flags", async () => {
    const r = await isol8(["completion", "bash"]);
    assert.equal(r.code, 0, r.stderr);
    const script = join(mkdtempSync(join(tmpdir(), "isol8-completion-e2e-")), "isol8.bash");
    writeFileSync(script, r.stdout);
    const offered = execFileSync(
      "bash",
      [
        "--noprofile",
        "--norc",
        "-c",
        'source "$0"; complete -p isol8; for line in "isol8 ru" "isol8 cleanup --a"; do read -ra COMP_WORDS <<< "$line"; COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _isol8; echo "${COMPREPLY[*]}"; done',
        script,
      ],
      { encoding: "utf8" },
    );
    assert.equal(offered, "complete -F _isol8 isol8\nrun\n--all\n");
  });

  test("zsh and fish print their scripts; another shell is a usage error", async () => {
    assert.match((await isol8(["completion", "zsh"])).stdout, /^#compdef isol8\n/);
    assert.match((await isol8(["completion", "fish"])).stdout, /^complete -c isol8 -f$/m);
    const tcsh = await isol8(["completion", "tcsh"]);
    assert.equal(tcsh.code, 2);
    assert.equal(tcsh.stdout, "");
    assert.match(tcsh.stderr, /^isol8: .*'tcsh'.*bash, zsh, fish/);
  });
});
