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

/**
 * One entry as text: its message, the error's stack after it, the request's
 * id at the end. Control characters a client can put in a message (a path's
 * `%0A` or `%1B` is decoded into it) are written escaped, so that a request
 * cannot forge a line of its own or send escape sequences to the operator's
 * terminal; a stack keeps its line breaks.
 */
function textLine(json: string): string {
  const entry = JSON.parse(json) as Entry;
  let line = `isol8 serve: ${escapeControls(entry.msg ?? "")}`;
  if (entry.err) line += `: ${escapeControls(entry.err.stack ?? entry.err.message ?? "", true)}`;
  if (entry.requestId) line += ` (request ${escapeControls(entry.requestId)})`;
  return line;
}

/** C0 controls, DEL and the C1 range (with CSI, 0x9b) as `\xNN`; newlines kept when `keepNewlines`. */
function escapeControls(text: string, keepNewlines = false): string {
  return text.replace(/\p{Cc}/gu, (c) =>
    keepNewlines && c === "\n" ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}
