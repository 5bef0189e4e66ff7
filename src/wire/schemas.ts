import { z } from "zod";
import { RUNTIMES } from "../runtimes/runtime.js";
import { NETWORK_MODES, SECCOMP_MODES } from "../types.js";

/**
 * The wire shapes of isol8's HTTP API (docs/http-api.md) as zod schemas:
 * every body the server reads is parsed with one of these, /openapi.json is
 * generated from them, and RemoteIsol8 takes its request and option types
 * from them, so neither the documentation nor the client can drift from
 * what the server enforces.
 */

/** The signals a client may send a running program (`{"type":"signal"}` on /execute/ws). */
const REMOTE_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/** One of REMOTE_SIGNALS. */
export type RemoteSignal = (typeof REMOTE_SIGNALS)[number];

const text = z.string();
const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "not a valid environment variable name");
const sandboxFile = z
  .string()
  .regex(/^\/sandbox(\/|$)/, "must be an absolute path under /sandbox")
  .refine((path) => !path.split("/").includes(".."), "must not contain ..");

/** Bounds of `request.metadata`, which each run copies into the audit log. */
export const METADATA_LIMITS = {
  entries: 32,
  /** Characters of a key: letters, digits, '.', '_', ':' or '-'. */
  keyLength: 64,
  /** UTF-8 bytes of one value. */
  valueBytes: 1024,
  /** UTF-8 bytes of all keys and values together. */
  totalBytes: 4096,
} as const;

// Stryker disable next-line StringLiteral: Buffer.byteLength counts UTF-8 without an encoding too.
const utf8Bytes = (value: string) => Buffer.byteLength(value, "utf8");

/**
 * Labels a client attaches to a run for the audit log: a small flat map of
 * short names to short strings, so that no client can make each audit line
 * as large as a request body.
 */
const metadataSchema = z
  .record(
    z
      .string()
      .regex(
        new RegExp(`^[A-Za-z0-9._:-]{1,${METADATA_LIMITS.keyLength}}$`),
        `a key must be 1-${METADATA_LIMITS.keyLength} letters, digits, '.', '_', ':' or '-'`,
      ),
    z
      .string()
      .refine(
        (value) => utf8Bytes(value) <= METADATA_LIMITS.valueBytes,
        `longer than ${METADATA_LIMITS.valueBytes} bytes`,
      ),
  )
  .refine(
    (map) => Object.keys(map).length <= METADATA_LIMITS.entries,
    `more than ${METADATA_LIMITS.entries} entries`,
  )
  .refine(
    (map) =>
      Object.entries(map).reduce((sum, [k, v]) => sum + utf8Bytes(k) + utf8Bytes(v), 0) <=
      METADATA_LIMITS.totalBytes,
    `keys and values together are longer than ${METADATA_LIMITS.totalBytes} bytes`,
  );

/** A session id: chosen by the client, scoped to its tenant. */
export const sessionIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/,
    "must be 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
  );

export const executionRequestSchema = z
  .strictObject({
    runtime: z.enum(RUNTIMES),
    code: text.optional(),
    codeUrl: z.url().optional(),
    codeHash: z
      .string()
      .regex(/^[a-f0-9]{64}$/i, "must be a SHA-256 hex digest")
      .optional(),
    allowInsecureCodeUrl: z.boolean().optional(),
    cmd: text.optional(),
    fileExtension: z
      .string()
      .regex(/^\.[A-Za-z0-9]+$/, "must look like .ext")
      .optional(),
    stdin: text.optional(),
    env: z.record(envName, text).optional(),
    timeoutMs: z.number().int().positive().optional(),
    files: z.record(sandboxFile, text).optional(),
    filesBase64: z.record(sandboxFile, z.base64()).optional(),
    outputPaths: z.array(sandboxFile).optional(),
    installPackages: z.array(z.string().min(1)).optional(),
    setupScript: text.optional(),
    workdir: z.string().optional(),
    metadata: metadataSchema.optional(),
    contextId: z.string().min(1).max(128).optional(),
  })
  .refine(
    (r) =>
      [r.code, r.codeUrl, r.cmd].filter((v) => v !== undefined && v.trim() !== "").length === 1,
    { message: "give exactly one of code, codeUrl and cmd, not blank", path: ["code"] },
  );

/** Engine options a client may ask for; the server's policy decides what it gets. */
export const executionOptionsSchema = z.strictObject({
  network: z.enum(NETWORK_MODES).optional(),
  networkFilter: z
    .strictObject({
      whitelist: z.array(z.string()).optional(),
      blacklist: z.array(z.string()).optional(),
      ports: z.array(z.number().int().min(1).max(65535)).optional(),
    })
    .optional(),
  memoryLimit: z.string().optional(),
  cpuLimit: z.number().positive().optional(),
  timeoutMs: z.number().int().positive().optional(),
  pidsLimit: z.number().int().positive().optional(),
  sandboxSize: z.string().optional(),
  tmpSize: z.string().optional(),
  readonlyRootFs: z.boolean().optional(),
  maxOutputSize: z.number().int().positive().optional(),
  secrets: z.record(envName, text).optional(),
  image: z.string().min(1).optional(),
  logNetwork: z.boolean().optional(),
  security: z
    .strictObject({
      seccomp: z.enum(SECCOMP_MODES).optional(),
      /** With `custom`: the name of a profile the server registers (policy.seccompProfiles). */
      customProfile: z.string().min(1).max(64).optional(),
      /** Refused with a message saying what to send instead: a server reads no file a client names. */
      customProfilePath: z.string().optional(),
    })
    .optional(),
});

export const executeBodySchema = z.strictObject({
  request: executionRequestSchema,
  options: executionOptionsSchema.optional(),
  sessionId: sessionIdSchema.optional(),
});

/** The first message on /execute/ws. */
export const wsExecuteSchema = executeBodySchema.extend({ type: z.literal("execute") });

/** Messages a WebSocket client may send while its run goes on. */
export const wsControlSchema = z.discriminatedUnion("type", [
  // `eof: true` ends the program's standard input (an isol8 extension of the protocol).
  z.strictObject({ type: z.literal("stdin"), data: text, eof: z.boolean().optional() }),
  z.strictObject({ type: z.literal("signal"), signal: z.enum(REMOTE_SIGNALS) }),
]);

/** POST /session/:id/context: a code context in the session (created with `options` on first use). */
export const createContextBodySchema = z.strictObject({
  runtime: z.enum(RUNTIMES),
  options: executionOptionsSchema.optional(),
});

export const putFileBodySchema = z.strictObject({
  sessionId: sessionIdSchema,
  path: z.string().min(1),
  content: z.base64(),
  /** A code context of the session: its /sandbox instead of the session's. */
  contextId: z.string().min(1).optional(),
  /**
   * Make the session (with the server's defaults) when it does not exist;
   * without it a missing session is a 404. Not with `contextId`.
   */
  createSession: z.boolean().optional(),
});

export const getFileQuerySchema = z.strictObject({
  sessionId: sessionIdSchema,
  path: z.string().min(1),
  contextId: z.string().min(1).optional(),
});

export const cleanupBodySchema = z.strictObject({ images: z.boolean().optional() });

const ttlMs = z.number().int().positive();

export const createKeyBodySchema = z.strictObject({
  name: z.string().min(1).max(200),
  tenantId: z.string().min(1).max(200).optional(),
  ttlMs: ttlMs.optional(),
});

export const loginBodySchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  tenantId: z.string().min(1).max(200).optional(),
  ttlMs: ttlMs.optional(),
});

export const listKeysQuerySchema = z.strictObject({ tenantId: z.string().min(1).optional() });
export const moveKeyBodySchema = z.strictObject({ tenantId: z.string().min(1).max(200) });

export const deleteSessionQuerySchema = z.strictObject({
  tenantId: z.string().min(1).max(200).optional(),
});

export type ExecuteBody = z.infer<typeof executeBodySchema>;
/** POST /file. */
export type PutFileBody = z.infer<typeof putFileBodySchema>;
/** What a client may send as `options`. */
export type ExecutionOptions = z.infer<typeof executionOptionsSchema>;
/** An ExecutionRequest as the wire knows it (a superset of the engine's). */
export type WireExecutionRequest = z.infer<typeof executionRequestSchema>;
