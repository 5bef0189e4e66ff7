import { Argument, type Command } from "commander";
import { bashCompletion } from "../completion/bash.js";
import { fishCompletion } from "../completion/fish.js";
import { commandSpec } from "../completion/spec.js";
import { zshCompletion } from "../completion/zsh.js";
import { addExamples } from "../examples.js";

const SHELLS = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion } as const;

export function registerCompletion(program: Command): void {
  const completion = program
    .command("completion")
    .description("Print a shell completion script for bash, zsh or fish (commands, flags, values)")
    .addArgument(new Argument("<shell>", "the shell to complete in").choices(Object.keys(SHELLS)))
    .action((shell: keyof typeof SHELLS) => {
      process.stdout.write(SHELLS[shell](commandSpec(program)));
    });
  addExamples(completion, [
    { line: "source <(isol8 completion bash)", does: "complete isol8 in this bash" },
    {
      line: "isol8 completion zsh > ~/.zfunc/_isol8",
      does: "for zsh, with ~/.zfunc in $fpath before compinit",
    },
    { line: "isol8 completion fish > ~/.config/fish/completions/isol8.fish", does: "for fish" },
  ]);
}
