import { z } from "zod";
import { RUNTIMES } from "../runtimes/runtime.js";
import type {
  ContextInfo,
  ExecutionResult,
  ExecutionSummary,
  NetworkLogEntry,
  ResourceUsage,
  RichOutput,
  StreamEvent,
} from "../types.js";

/**
 * The bodies isol8's HTTP API answers with, as zod schemas: the server's
 * routes declare them (so /openapi.json describes what the routes return,
 * and the compiler refuses a route that returns anything else), and
 * RemoteIsol8 reads its answers by their types. Each schema's `id` names it
 * in the document's components.
 *
 * The engine's own types (ExecutionResult, StreamEvent, ...) stay the
 * library's in src/types.ts; `exactly` below makes each schema here fail to
 * compile when it and that type disagree, field for field.
 */

/**
 * `schema` when what it parses and `T` have the same keys and each is
 * assignable to the other; `never` (a compile error where it is used)
 * otherwise. The key check catches an optional field one side lacks, which
 * assignability alone lets through.
 */
type Exactly<S extends z.ZodType, T> = [z.infer<S>] extends [T]
  ? [T] extends [z.infer<S>]
    ? [keyof T] extends [keyof z.infer<S>]
      ? [keyof z.infer<S>] extends [keyof T]
        ? S
        : never
      : never
    : never
  : never;

const exactly =
  <T>() =>
  <S extends z.ZodType>(schema: Exactly<S, T>): S =>
    schema;

const runtime = z.enum(RUNTIMES);

/**
 * Every refusal or failure: `error` is one line for people; `code`, when
 * there is one, is the `code` of the library error class a local engine
 * throws for the same thing (`INVALID_REQUEST`, `INVALID_OPTION`,
 * `SANDBOX_FILE`, ...), so a client can throw that class too. Refusals with
 * no local counterpart (authentication, policy, a busy server) have none.
 */
export const errorBodySchema = z
  .strictObject({
    error: z.string().meta({ description: "one line saying what went wrong" }),
    code: z.string().optional().meta({
      description: "the code of the library error class a local engine throws for the same refusal",
    }),
  })
  .meta({ id: "Error" });

/** `{ ok: true }`: a removal, reset or upload that succeeded. */
export const okSchema = z.strictObject({ ok: z.literal(true) }).meta({ id: "Ok" });

const resourceUsageSchema = exactly<ResourceUsage>()(
  z
    .strictObject({
      cpuPercent: z
        .number()
        .meta({ description: "CPU time as a share of wall time (100 = one core)" }),
      memoryMB: z.number().meta({ description: "peak memory of the container, MiB" }),
      cpuTimeMs: z.number(),
      networkBytesIn: z.number(),
      networkBytesOut: z.number(),
    })
    .meta({ id: "ResourceUsage" }),
);

const networkLogEntrySchema = exactly<NetworkLogEntry>()(
  z
    .strictObject({
      timestamp: z.string(),
      method: z.string().meta({ description: "CONNECT for a tunnel, else the HTTP method" }),
      host: z.string(),
      port: z.number(),
      path: z.string().nullable().meta({ description: "null for a tunnel (CONNECT)" }),
      action: z.enum(["ALLOW", "BLOCK"]),
      reason: z.string().optional(),
      durationMs: z.number(),
      bytesOut: z.number(),
      bytesIn: z.number(),
    })
    .meta({ id: "NetworkLogEntry" }),
);

const richOutputSchema = exactly<RichOutput>()(
  z
    .strictObject({
      type: z.enum(["image/png", "image/svg+xml", "text/html"]),
      data: z.string().meta({ description: "base64 for image/png; the text for SVG and HTML" }),
      stdoutOffset: z
        .number()
        .meta({ description: "the output came after stdout.slice(0, stdoutOffset)" }),
    })
    .meta({ id: "RichOutput" }),
);

/** The fields of an ExecutionResult but its output. */
const summaryFields = {
  exitCode: z.number(),
  durationMs: z.number(),
  truncated: z.boolean(),
  timedOut: z.boolean(),
  oomKilled: z.boolean(),
  executionId: z.string(),
  runtime,
  timestamp: z.string(),
  containerId: z.string().optional(),
  resourceUsage: resourceUsageSchema.optional(),
  setupFailed: z
    .boolean()
    .optional()
    .meta({ description: "request.setupScript failed; the program did not run" }),
  installFailed: z.boolean().optional().meta({
    description: "installing request.installPackages failed; the output is the installer's",
  }),
  networkLogs: z.array(networkLogEntrySchema).optional(),
  files: z
    .record(z.string(), z.string())
    .optional()
    .meta({ description: "request.outputPaths the run left, base64, by normalized path" }),
  fileErrors: z
    .record(z.string(), z.string())
    .optional()
    .meta({ description: "request.outputPaths left out of files, each with the reason" }),
  withheldFiles: z
    .array(z.string())
    .optional()
    .meta({ description: "outputPaths left out because they hold a secret's value" }),
  value: z
    .string()
    .optional()
    .meta({ description: "code contexts: the last expression's value as text" }),
  outputs: z
    .array(richOutputSchema)
    .optional()
    .meta({ description: "python code contexts: rich outputs in order" }),
  contextRestarted: z
    .boolean()
    .optional()
    .meta({ description: "code contexts: the interpreter was restarted and its state lost" }),
};

/** POST /execute: what the run produced. */
export const executionResultSchema = exactly<ExecutionResult>()(
  z
    .strictObject({
      stdout: z.string(),
      stderr: z.string(),
      ...summaryFields,
    })
    .meta({ id: "ExecutionResult" }),
);

const executionSummarySchema = exactly<ExecutionSummary>()(
  z
    .strictObject(summaryFields)
    .meta({ id: "ExecutionSummary", description: "an ExecutionResult without stdout and stderr" }),
);

/** A stream event of each kind, checked one by one: `exactly` sees only a union's common keys. */
type EventOf<K extends StreamEvent["type"]> = Extract<StreamEvent, { type: K }>;

const outputEventSchema = exactly<Exclude<StreamEvent, EventOf<"exit" | "error">>>()(
  z.strictObject({
    type: z.enum(["stdout", "stderr"]),
    data: z.string(),
    phase: z.enum(["install", "setup", "code"]).optional().meta({
      description: "set only when the run has an install or setup step",
    }),
  }),
);

const exitEventSchema = exactly<EventOf<"exit">>()(
  z.strictObject({
    type: z.literal("exit"),
    data: z.string().meta({ description: "the exit code in decimal" }),
    result: executionSummarySchema,
  }),
);

/** A stream's `error` event on the wire (see WireStreamEvent). */
export interface WireErrorEvent {
  type: "error";
  data: string;
  code?: string;
  retryAfter?: string;
}

/**
 * An event of a streamed run as the server sends it: the engine's events,
 * and the `error` that ends a refused or failed run, with the fields of its
 * error body (`code`) and, for a busy server, its `Retry-After` in seconds.
 */
export type WireStreamEvent = Exclude<StreamEvent, { type: "error" }> | WireErrorEvent;

const wireErrorEventSchema = exactly<WireErrorEvent>()(
  z.strictObject({
    type: z.literal("error"),
    data: z.string(),
    code: z.string().optional().meta({ description: "as in an error body" }),
    retryAfter: z.string().optional().meta({ description: "a busy server's Retry-After, seconds" }),
  }),
);

/** One event of a streamed run: an SSE `data:` line or a WebSocket message. */
export const streamEventSchema = exactly<WireStreamEvent>()(
  z
    .discriminatedUnion("type", [outputEventSchema, exitEventSchema, wireErrorEventSchema])
    .meta({ id: "StreamEvent" }),
);

/** A code context: a live interpreter in a session. */
export const contextInfoSchema = exactly<ContextInfo>()(
  z.strictObject({ id: z.string(), runtime }).meta({ id: "Context" }),
);

/** GET /session/:id/context. */
export const contextListSchema = z.strictObject({ contexts: z.array(contextInfoSchema) });

/** A session as GET /sessions lists it (and RemoteIsol8's `listSessions`). */
export interface SessionInfo {
  id: string;
  /** The tenant it belongs to (the master key lists every tenant's). */
  tenantId: string;
  /** True while an execution or file transfer is using it. */
  isActive: boolean;
  /** ISO 8601. */
  lastAccessedAt: string;
}

const sessionInfoSchema = exactly<SessionInfo>()(
  z
    .strictObject({
      id: z.string(),
      tenantId: z.string().meta({ description: "the master key lists every tenant's" }),
      isActive: z.boolean().meta({ description: "an execution or file transfer is using it" }),
      lastAccessedAt: z.string().meta({ description: "ISO 8601" }),
    })
    .meta({ id: "Session" }),
);

/** GET /sessions. */
export const sessionListSchema = z.strictObject({ sessions: z.array(sessionInfoSchema) });

/** GET /file: the file's bytes, base64. */
export const fileContentSchema = z.strictObject({ content: z.base64() });

/** GET /health. */
export const healthSchema = z
  .strictObject({ status: z.literal("ok"), version: z.string() })
  .meta({ id: "Health", description: "the server can run code" });

/** GET /health's 503: the Docker engine does not answer. */
export const degradedHealthSchema = z
  .strictObject({
    status: z.literal("degraded"),
    version: z.string(),
    docker: z.literal("unreachable"),
    error: z.string().meta({ description: "where the engine was looked for and why it failed" }),
  })
  .meta({ id: "DegradedHealth" });

const removalReportSchema = z
  .strictObject({ removed: z.number(), failed: z.number(), errors: z.array(z.string()) })
  .meta({ id: "RemovalReport" });

/** POST /cleanup. */
export const cleanupReportSchema = z.strictObject({
  ok: z.literal(true),
  sessions: removalReportSchema,
  containers: removalReportSchema,
  images: removalReportSchema.optional(),
});

const expiresAt = z.string().nullable().meta({ description: "ISO 8601; null: never" });

/** POST /auth/keys (201): the key itself is shown this once. */
export const createdKeySchema = z.strictObject({
  id: z.string(),
  key: z.string(),
  name: z.string(),
  keyPrefix: z.string(),
  tenantId: z.string(),
  expiresAt,
});

/** GET /auth/keys. */
export const keyListSchema = z.strictObject({
  keys: z.array(
    z
      .strictObject({
        id: z.string(),
        name: z.string(),
        keyPrefix: z.string(),
        tenantId: z.string(),
        createdAt: z.string(),
        expiresAt,
        lastUsedAt: z.string().nullable(),
        revoked: z.boolean(),
        kind: z.enum(["key", "token"]),
      })
      .meta({ id: "ApiKey" }),
  ),
});

/** PATCH /auth/keys/:id. */
export const movedKeySchema = z.strictObject({
  ok: z.literal(true),
  id: z.string(),
  tenantId: z.string(),
});

/** DELETE /auth/keys/:id. */
export const revokedKeySchema = z.strictObject({ ok: z.literal(true), id: z.string() });

/** POST /auth/login. */
export const loginTokenSchema = z.strictObject({
  token: z.string(),
  expiresAt,
  keyId: z.string(),
});

/** GET /sessions. */
export type SessionList = z.infer<typeof sessionListSchema>;
/** GET /session/:id/context. */
export type ContextList = z.infer<typeof contextListSchema>;
/** GET /file. */
export type FileContent = z.infer<typeof fileContentSchema>;
/** GET /health. */
export type Health = z.infer<typeof healthSchema> | z.infer<typeof degradedHealthSchema>;
/** Summary of removals, as POST /cleanup reports it. */
export type RemovalReport = z.infer<typeof removalReportSchema>;
/** Every refusal or failure's body (see errorBodySchema). */
export type ErrorBody = z.infer<typeof errorBodySchema>;
