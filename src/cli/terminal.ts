import type { Isol8Sandbox } from "../sandbox/api.js";

/**
 * Joins this process's terminal to a program on a terminal in `sandbox`:
 * raw keystrokes (Ctrl-C included) go in, its bytes come out, a resize of
 * this terminal resizes that one, and the program's exit code is returned.
 * Stdin that is not a terminal (a pipe) is passed on as it is, its end as
 * the terminal's EOF character.
 */
export async function attachTerminal(sandbox: Isol8Sandbox, cmd?: string): Promise<number> {
  const input = process.stdin;
  const output = process.stdout;
  const size = () => ({ cols: output.columns || 80, rows: output.rows || 24 });
  const terminal = await sandbox.pty.create({
    ...size(),
    ...(cmd === undefined ? {} : { cmd }),
    onData: (data) => output.write(data),
  });
  // Keystrokes in order: each write waits for the one before.
  let keys: Promise<void> = Promise.resolve();
  const send = (work: () => Promise<void>) => {
    keys = keys.then(work).catch(() => undefined);
  };
  const onInput = (chunk: Buffer) => send(() => terminal.sendStdin(chunk));
  const onEnd = () => send(() => terminal.closeStdin());
  const onResize = () => void sandbox.pty.resize(terminal.pid, size()).catch(() => undefined);
  const raw = input.isTTY === true;
  if (raw) input.setRawMode(true);
  input.on("data", onInput);
  input.once("end", onEnd);
  output.on("resize", onResize);
  input.resume();
  try {
    return (await terminal.wait()).exitCode;
  } finally {
    output.off("resize", onResize);
    input.off("data", onInput);
    input.off("end", onEnd);
    if (raw) input.setRawMode(false);
    input.pause();
  }
}
