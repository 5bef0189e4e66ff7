// A real terminal for interactive commands: a detached tmux session of a
// given size, driven with send-keys and read with capture-pane.
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "./eventually.js";

export interface TmuxTerminal {
  /** Types keys as tmux's send-keys takes them (`Enter`, `C-c` are keys). */
  keys(...keys: string[]): void;
  resize(cols: number, rows: number): void;
  /** What the terminal shows now. */
  screen(): string;
  /** Waits until the screen matches; throws with the screen if it never does. */
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
  /** The command's exit code once it has exited. */
  exitCode(ms?: number): Promise<number>;
  close(): void;
}

function tmux(...args: string[]): string {
  return execFileSync("tmux", args, { encoding: "utf8" });
}

/** Runs `argv` (with `env`) in a new tmux session of `cols` x `rows`. */
export function openTerminal(
  argv: string[],
  env: Record<string, string>,
  cols = 100,
  rows = 30,
): TmuxTerminal {
  const name = `isol8-test-${randomUUID().slice(0, 8)}`;
  const exitFile = join(mkdtempSync(join(tmpdir(), "isol8-tmux-")), "exit");
  const quoted = argv.map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(" ");
  const exports = Object.entries(env)
    .map(([key, value]) => `${key}='${value.replaceAll("'", "'\\''")}'`)
    .join(" ");
  // The pane stays a moment after the command, so its last screen can be read.
  const script = `env -i ${exports} ${quoted}; echo $? > ${exitFile}; sleep 30`;
  tmux("new-session", "-d", "-s", name, "-x", String(cols), "-y", String(rows), script);
  const screen = () => tmux("capture-pane", "-p", "-t", name);
  return {
    keys: (...keys) => void tmux("send-keys", "-t", name, ...keys),
    resize: (c, r) => void tmux("resize-window", "-t", name, "-x", String(c), "-y", String(r)),
    screen,
    async waitFor(pattern, ms = 30_000) {
      if (await eventually(() => pattern.test(screen()), ms)) return screen();
      throw new Error(`the terminal never showed ${pattern}:\n${screen()}`);
    },
    async exitCode(ms = 30_000) {
      if (
        !(await eventually(() => existsSync(exitFile) && readFileSync(exitFile, "utf8") !== "", ms))
      )
        throw new Error(`the command did not exit:\n${screen()}`);
      return Number(readFileSync(exitFile, "utf8").trim());
    },
    close: () => {
      try {
        tmux("kill-session", "-t", name);
      } catch {}
    },
  };
}
