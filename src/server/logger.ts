import { type Logger, pino } from "pino";
import type { LogFormat } from "./log-format.js";

/** Where the server's log lines go (stderr by default): each call is one complete line, no newline. */
export type ServerLog = (line: string) => void;

/** The server's logger: pino's API, whatever the format. */
export type ServerLogger = Logger;

/**
 * Keys never written even if a caller passes them by mistake: the bearer key
 * and bodies (code, stdin, env and secrets travel in them). The server logs
 * neither on purpose; this is the second line of defence.
 */
const REDACTED = [
  "authorization",
  "headers.authorization",
  "req.headers.authorization",
  "body",
  "req.body",
];

/**
 * A pino logger writing to `sink`: pino's JSON lines as they are for `json`
 * (for log shippers), or for `text` the message as the operator reads it,
 * `isol8 serve: <message>`, with a request's id and an error's stack.
 * `debug` lowers the level from info to debug.
 */
export function createServerLogger(format: LogFormat, debug: boolean, sink: ServerLog): Logger {
  return pino(
    {
      level: debug ? "debug" : "info",
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED, censor: "[redacted]" },
    },
    {
      // pino hands each entry over as one JSON line, synchronously.
      write: (line: string) => sink(format === "json" ? line.trimEnd() : textLine(line)),
    },
  );
}

interface Entry {
  msg?: string;
  requestId?: string;
  err?: { stack?: string; message?: string };
}

/** One entry as text: its message, the error's stack after it, the request's id at the end. */
function textLine(json: string): string {
  const entry = JSON.parse(json) as Entry;
  let line = `isol8 serve: ${entry.msg ?? ""}`;
  if (entry.err) line += `: ${entry.err.stack ?? entry.err.message}`;
  if (entry.requestId) line += ` (request ${entry.requestId})`;
  return line;
}
