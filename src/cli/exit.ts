/**
 * Ends the process with `code` once everything written to stdout and stderr
 * has been handed to the operating system.
 *
 * `process.exit()` drops whatever Node still queues for a pipe (on Linux pipe
 * writes are asynchronous), so a reader that is slower than isol8 - an agent
 * framework reading both streams, `| less` - lost the tail of a large output.
 * Every way the CLI ends goes through here.
 */
export async function exitWhenFlushed(
  code: number | undefined = process.exitCode as number,
): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

/** Resolves when what was written before is out (a write's callback runs after every earlier one), or the stream is gone. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || !stream.writable) return Promise.resolve();
  return new Promise((resolve) => {
    // A reader that went away (EPIPE) cannot receive more: nothing left to wait for.
    stream.once("error", () => resolve());
    stream.write("", () => resolve());
  });
}
