// The completion scripts `isol8 completion` prints, generated from the
// command tree. bash is on every machine this suite runs on, so its script
// is loaded into a real bash and asked for completions; zsh and fish may be
// absent, so their scripts are checked by bash's parser (they are written in
// the syntax the three shells share: functions, case, quoting) and against
// the tree, flag by flag.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { bashCompletion } from "../../src/cli/completion/bash.js";
import { fishCompletion } from "../../src/cli/completion/fish.js";
import { allCommands, commandSpec } from "../../src/cli/completion/spec.js";
import { zshCompletion } from "../../src/cli/completion/zsh.js";
import { buildProgram } from "../../src/cli/program.js";
import { RUNTIMES } from "../../src/runtimes/runtime.js";
import { NETWORK_MODES } from "../../src/types.js";

const tree = commandSpec(buildProgram());
const dir = mkdtempSync(join(tmpdir(), "isol8-completion-"));

function saved(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const bashScript = saved("isol8.bash", bashCompletion(tree));

/** What the loaded bash script offers for a command line whose last word is being typed. */
function complete(...words: string[]): string[] {
  const line = words.map((w) => `'${w.replaceAll("'", `'\\''`)}'`).join(" ");
  const out = execFileSync(
    "bash",
    [
      "--noprofile",
      "--norc",
      "-c",
      `source "$0"; COMP_WORDS=(${line}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _isol8; printf '%s\\n' "\${COMPREPLY[@]}"`,
      bashScript,
    ],
    { encoding: "utf8", cwd: dir },
  );
  return out.split("\n").filter((w) => w !== "");
}

describe("isol8 completion bash", () => {
  test("loaded in bash, it registers a completion function for isol8", () => {
    const out = execFileSync(
      "bash",
      ["--noprofile", "--norc", "-c", 'source "$0" && complete -p isol8', bashScript],
      { encoding: "utf8" },
    );
    assert.equal(out, "complete -F _isol8 isol8\n");
  });

  test("commands, a command's flags and a subcommand's", () => {
    assert.deepEqual(complete("isol8", "ru"), ["run"]);
    assert.deepEqual(complete("isol8", "se"), ["setup", "serve", "session"]);
    assert.deepEqual(complete("isol8", "session", ""), ["list", "stop"]);
    assert.deepEqual(complete("isol8", "run", "--time"), ["--timeout"]);
    assert.deepEqual(complete("isol8", "session", "list", "--"), [
      "--host",
      "--key",
      "--json",
      "--help",
    ]);
    // A flag's value is not taken for a command: `--timeout 5` leaves `run`'s flags.
    assert.deepEqual(complete("isol8", "run", "--timeout", "5", "--net-"), ["--net-log"]);
  });

  test("fixed values of a flag, typed after a space or an =, and of an argument", () => {
    assert.deepEqual(complete("isol8", "run", "--runtime", ""), [...RUNTIMES]);
    assert.deepEqual(complete("isol8", "run", "-r", "b"), ["bun", "bash"]);
    assert.deepEqual(complete("isol8", "run", "--net", "=", ""), [...NETWORK_MODES]);
    assert.deepEqual(complete("isol8", "run", "--net", "=", "fi"), ["filtered"]);
    assert.deepEqual(complete("isol8", "build", "--base", "py"), ["python"]);
    assert.deepEqual(complete("isol8", "completion", ""), ["bash", "zsh", "fish"]);
    // A free value (code) offers nothing rather than commands.
    assert.deepEqual(complete("isol8", "run", "-e", ""), []);
  });

  test("file names where a flag or argument takes a file", () => {
    writeFileSync(join(dir, "prog.py"), "print(1)");
    assert.deepEqual(complete("isol8", "run", "pro"), ["prog.py"]);
    assert.deepEqual(complete("isol8", "run", "--config", "isol8.b"), ["isol8.bash"]);
    writeFileSync(join(dir, "my data.csv"), "");
    assert.deepEqual(complete("isol8", "run", "--files", "my"), [], "--files takes a directory");
    assert.deepEqual(
      complete("isol8", "run", "my"),
      ["my data.csv"],
      "a name with a space stays whole",
    );
  });
});

describe("isol8 completion zsh and fish", () => {
  for (const [shell, script] of [
    ["zsh", zshCompletion(tree)],
    ["fish", fishCompletion(tree)],
  ] as const) {
    test(`${shell}: bash's parser accepts it (balanced quotes, functions, cases)`, () => {
      execFileSync("bash", ["-n", saved(`isol8.${shell}`, script)]);
    });
  }

  test("zsh: a function per command, naming each of its flags and subcommands", () => {
    const script = zshCompletion(tree);
    assert.match(script, /^#compdef isol8\n/);
    for (const command of allCommands(tree)) {
      const name = ["_isol8", ...command.path].join("_");
      const body = new RegExp(`^${name}\\(\\) \\{\\n([\\s\\S]*?)\\n\\}$`, "m").exec(script)?.[1];
      assert.ok(body, `${name} is defined`);
      for (const flag of command.flags)
        for (const spelling of flag.names)
          assert.ok(body.includes(spelling), `${name}: ${spelling}`);
      for (const sub of command.subcommands)
        assert.ok(body.includes(`'${sub.name}:`), `${name}: ${sub.name}`);
    }
    assert.match(script, /--runtime\[[^\]]*\]:runtime:\(python node bun deno bash\)/);
  });

  test("fish: a complete line per flag, under its command's condition", () => {
    const lines = fishCompletion(tree).split("\n");
    for (const command of allCommands(tree)) {
      for (const flag of command.flags) {
        const long = flag.long?.replace(/^--/, "");
        const found = lines.some(
          (line) =>
            line.startsWith("complete -c isol8 ") &&
            (command.path.length === 0
              ? line.includes("__fish_use_subcommand")
              : command.path.every((w) => line.includes(`__fish_seen_subcommand_from ${w}`))) &&
            (long === undefined || line.includes(` -l ${long} `)),
        );
        assert.ok(found, `${command.path.join(" ") || "isol8"} ${flag.names.join(",")}`);
      }
    }
    assert.ok(
      lines.includes(
        "complete -c isol8 -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'",
      ),
    );
  });
});
