// Output events as a program wrote them, whatever chunks they arrived in.

/** An event as streams carry it: its type and, for output, its data. */
interface EventLike {
  type: string;
  data?: unknown;
}

/**
 * The output of a stream as runs of one stream each, `stdout:<text>` or
 * `stderr:<text>`: consecutive stdout events (or stderr events) are joined,
 * and the rest (exit, error, ...) are left out. How a pipe cut the output
 * into chunks is the pipe's business; which stream wrote what, in which
 * order, is the program's.
 */
export function outputRuns(events: readonly EventLike[]): string[] {
  const runs: { type: string; text: string }[] = [];
  for (const event of events) {
    if (event.type !== "stdout" && event.type !== "stderr") continue;
    const last = runs.at(-1);
    if (last?.type === event.type) last.text += String(event.data);
    else runs.push({ type: event.type, text: String(event.data) });
  }
  return runs.map((run) => `${run.type}:${run.text}`);
}
