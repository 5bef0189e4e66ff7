/**
 * `await using` support for isol8's engines and streamed runs.
 *
 * Node defines `Symbol.asyncDispose` from 20.4 on, as the registered symbol
 * `nodejs.asyncDispose`; the engines range starts at 20.0, so it is defined
 * here the same way when missing. Every module that names the symbol imports
 * this one first.
 */
const symbols = Symbol as { asyncDispose?: symbol };
symbols.asyncDispose ??= Symbol.for("nodejs.asyncDispose");

/**
 * Gives a streamed run `[Symbol.asyncDispose]`: ending its iteration as an
 * early `break` does, which kills the run if it is still going and resolves
 * once it is gone. (Node 20's async generators have no such method.)
 */
export function disposableRun<Run extends AsyncGenerator<unknown, unknown, unknown>>(
  run: Run,
): Run & { [Symbol.asyncDispose](): Promise<void> } {
  return Object.assign(run, {
    async [Symbol.asyncDispose](): Promise<void> {
      await run.return(undefined);
    },
  });
}
