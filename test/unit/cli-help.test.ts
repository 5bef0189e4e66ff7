// Every command's --help ends with examples, and every example is a command
// line the CLI accepts: each is parsed against a fresh command tree whose
// actions do nothing, so an example naming a flag, a value or a subcommand
// the CLI no longer has fails here instead of misleading a reader.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Command, CommanderError } from "commander";
import { walkCommands } from "../../src/cli/command-tree.js";
import { examplesOf } from "../../src/cli/examples.js";
import { buildProgram } from "../../src/cli/program.js";

/** The help text `isol8 ... --help` prints for `command`, with what comes after it. */
function helpOf(command: Command): string {
  let text = "";
  command.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  command.outputHelp();
  return text;
}

/**
 * A shell line as words, the way a POSIX shell splits it: quotes removed,
 * backslashes in double quotes honoured, and the operators that end a
 * command (`|`, `>`, `<(`, `)`, `;`) as words of their own.
 */
function shellWords(line: string): { word: string; operator: boolean }[] {
  const words: { word: string; operator: boolean }[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === " ") {
      i++;
      continue;
    }
    const op = /^(<\(|\||>|\)|;)/.exec(line.slice(i))?.[0];
    if (op) {
      words.push({ word: op, operator: true });
      i += op.length;
      continue;
    }
    let word = "";
    while (i < line.length && line[i] !== " " && !/^(<\(|\||>|\)|;)/.test(line.slice(i))) {
      const ch = line[i] as string;
      if (ch === "'") {
        const end = line.indexOf("'", i + 1);
        assert.ok(end > i, `unbalanced ' in ${line}`);
        word += line.slice(i + 1, end);
        i = end + 1;
      } else if (ch === '"') {
        i++;
        while (i < line.length && line[i] !== '"') {
          if (line[i] === "\\" && /["\\$`]/.test(line[i + 1] ?? "")) i++;
          word += line[i];
          i++;
        }
        assert.ok(i < line.length, `unbalanced " in ${line}`);
        i++;
      } else if (ch === "\\") {
        word += line[i + 1] ?? "";
        i += 2;
      } else {
        word += ch;
        i++;
      }
    }
    words.push({ word, operator: false });
  }
  return words;
}

/** The arguments an example gives isol8: the words after `isol8` up to the end of its command. */
function isol8Arguments(line: string): string[] {
  const words = shellWords(line);
  const start = words.findIndex((w) => !w.operator && w.word === "isol8");
  assert.ok(start >= 0, `an example runs isol8: ${line}`);
  const rest = words.slice(start + 1);
  const end = rest.findIndex((w) => w.operator);
  return (end === -1 ? rest : rest.slice(0, end)).map((w) => w.word);
}

/** Parses `args` as `isol8 ARGS` on a fresh tree whose commands do nothing; throws what commander refuses. */
async function parses(args: string[]): Promise<void> {
  const program = buildProgram();
  for (const { command } of walkCommands(program)) {
    command.exitOverride();
    command.configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
    command.action(() => undefined);
  }
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (error) {
    // --help and --version end the parse with exit code 0: accepted.
    if (!(error instanceof CommanderError && error.exitCode === 0)) throw error;
  }
}

describe("--help", () => {
  const commands = walkCommands(buildProgram());

  test("the walk reaches every command and subcommand", () => {
    const paths = commands.map((c) => c.path.join(" "));
    for (const path of ["", "run", "cleanup", "config trust", "session list", "completion"])
      assert.ok(paths.includes(path), `isol8 ${path}`);
  });

  for (const { command, path } of commands) {
    const name = ["isol8", ...path].join(" ");
    test(`${name}: its help ends with examples the CLI accepts`, async () => {
      const examples = examplesOf(command);
      assert.ok(examples.length > 0, `${name} has examples`);
      const help = helpOf(command);
      const section = help.slice(help.indexOf("\nExamples:\n"));
      assert.ok(help.includes("\nExamples:\n"), `${name}'s help has an Examples section`);
      for (const example of examples) {
        assert.ok(section.includes(`$ ${example.line}`), `${name}'s help shows ${example.line}`);
        assert.ok(section.includes(`# ${example.does}`));
        await assert.doesNotReject(parses(isol8Arguments(example.line)), example.line);
      }
    });
  }

  test("an example naming a flag or value the CLI lacks is refused by that parse", async () => {
    await assert.rejects(parses(["run", "--no-such-flag", "-e", "1"]));
    await assert.rejects(parses(["completion", "tcsh"]));
    await assert.rejects(parses(["build", "--install", "x"]), "build needs --base");
    await assert.rejects(parses(["sesion", "list"]));
    assert.deepEqual(isol8Arguments(`echo 'x' | isol8 run -e "print(\\"a b\\")" > out`), [
      "run",
      "-e",
      'print("a b")',
    ]);
  });
});
