import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { ResultCollector } from "../../../engine/collect-result.js";
import type {
  ExecutionRequest,
  ExecutionSummary,
  NetworkLogEntry,
  StreamEvent,
} from "../../../types.js";
import { CliError, EXIT } from "../../exit-codes.js";

/** Where a run executes: the local engine or an isol8 server; the CLI treats both alike. */
interface Executor {
  executeStream(request: ExecutionRequest): AsyncIterable<StreamEvent>;
}

/** How `isol8 run` shows a run: the flags of output. */
interface OutputFlags {
  /** False with `--no-stream`. */
  stream?: boolean;
  json?: boolean;
  /** `--out FILE`: the program's stdout goes there. */
  out?: string;
}

/** The exit code of `isol8 run` for a finished run: isol8's own codes for what ended it, else the program's. */
function exitCodeFor(result: ExecutionSummary): number {
  if (result.installFailed) return EXIT.installFailed;
  if (result.timedOut) return EXIT.timeout;
  if (result.oomKilled) return EXIT.outOfMemory;
  return result.exitCode;
}

/**
 * Runs the request and prints it as the flags ask (streamed, buffered or as
 * JSON; stdout to --out), returning the exit code `isol8 run` should have.
 */
export async function printRun(
  executor: Executor,
  request: ExecutionRequest,
  flags: OutputFlags,
): Promise<number> {
  const out = flags.out ? createWriteStream(flags.out) : undefined;
  try {
    const stdout = out ?? process.stdout;
    const buffered = flags.json || flags.stream === false;
    // Streamed, output is printed as it comes; buffered, it is held until the
    // end and shown as `execute()` shows it (a setup's output only when the
    // setup failed). Notices (timeout, OOM, truncation) arrive as error events either way.
    const collector = new ResultCollector();
    for await (const event of executor.executeStream(request)) {
      if (buffered || event.type === "exit") collector.add(event);
      else if (event.type === "error") process.stderr.write(`isol8: ${event.data}\n`);
      // The installer's chatter is isol8's, not the program's: it never lands in stdout.
      else if (event.type === "stderr" || event.phase === "install")
        await writeOut(process.stderr, event.data);
      else await writeOut(stdout, event.data);
      if (event.type === "exit") {
        const result = collector.result();
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          out?.write(result.stdout);
        } else if (buffered) {
          stdout.write(result.stdout);
          process.stderr.write(result.stderr);
          for (const notice of collector.notices) process.stderr.write(`isol8: ${notice}\n`);
        }
        if (!flags.json)
          for (const line of result.networkLogs ?? [])
            process.stderr.write(`${formatNetLog(line)}\n`);
        return exitCodeFor(result);
      }
    }
    throw new CliError("the run ended without an exit status", EXIT.isol8Error);
  } finally {
    if (out) {
      out.end();
      await once(out, "close").catch(() => undefined);
    }
  }
}

/** Writes a chunk, waiting when the reader is behind so that output never piles up in memory. */
async function writeOut(stream: NodeJS.WritableStream, data: string): Promise<void> {
  if (!stream.write(data)) await once(stream, "drain");
}

/** One line of `--net-log`: `isol8 net: ALLOW CONNECT pypi.org:443 120 ms 5120 B in 812 B out`. */
function formatNetLog(entry: NetworkLogEntry): string {
  const target = `${entry.host}:${entry.port}${entry.path ?? ""}`;
  const outcome =
    entry.action === "BLOCK"
      ? `(${entry.reason ?? "blocked"})`
      : `${entry.durationMs} ms ${entry.bytesIn} B in ${entry.bytesOut} B out${entry.reason ? ` (${entry.reason})` : ""}`;
  return `isol8 net: ${entry.action} ${entry.method} ${target} ${outcome}`;
}
