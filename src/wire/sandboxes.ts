/**
 * The HTTP API's long-lived sandboxes (`/sandboxes/...`): request bodies and
 * answers, as zod schemas shared by the server's routes (and so the OpenAPI
 * document) and RemoteIsol8. Times travel as ISO 8601 strings; the client
 * turns them back into Dates. Deeper checks (sizes, paths, names) are the
 * library's own (src/sandbox/validate.ts), which the server runs too, so a
 * refusal reads the same locally and remotely.
 */
import { z } from "zod";
import { RUNTIMES } from "../runtimes/runtime.js";
import { executionOptionsSchema } from "./schemas.js";

const stringMap = z.record(z.string(), z.string());

/** A sandbox id (a UUID the engine made) in a path. */
const sandboxIdParam = z.string().min(1).max(64);

export const sandboxParamsSchema = z.object({ id: sandboxIdParam });
export const processParamsSchema = z.object({
  id: sandboxIdParam,
  pid: z.coerce.number().int().positive(),
});

/** POST /sandboxes. */
export const createSandboxBodySchema = z.strictObject({
  runtime: z.enum(RUNTIMES).optional(),
  env: stringMap.optional(),
  metadata: stringMap.optional(),
  timeoutMs: z.number().int().optional(),
  pidsLimit: z.number().int().optional(),
  options: executionOptionsSchema.optional(),
});

/** POST /sandboxes/:id/timeout. */
export const sandboxTimeoutBodySchema = z.strictObject({ timeoutMs: z.number().int() });

const terminalSizeSchema = z.strictObject({ cols: z.number().int(), rows: z.number().int() });

/** POST /sandboxes/:id/processes: starts a process in the background. */
export const startProcessBodySchema = z.strictObject({
  cmd: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .meta({
      description:
        "a command for bash (`bash -c`), or an argv array; on a terminal, an interactive bash unless given",
    }),
  envs: stringMap.optional(),
  cwd: z.string().optional(),
  timeoutMs: z.number().int().optional(),
  stdin: z.boolean().optional().meta({
    description: "keep its standard input open for POST .../stdin (a terminal's always is)",
  }),
  pty: terminalSizeSchema.optional().meta({ description: "run it on a terminal of this size" }),
});

/** POST /sandboxes/:id/processes/:pid/stdin. */
export const processStdinBodySchema = z.strictObject({
  data: z.string().optional(),
  encoding: z
    .enum(["utf8", "base64"])
    .optional()
    .meta({ description: "of `data`; utf8 unless said" }),
  eof: z.boolean().optional().meta({ description: "end its standard input after `data`" }),
});

/** POST /sandboxes/:id/processes/:pid/signal. */
export const processSignalBodySchema = z.strictObject({
  signal: z.enum(["SIGHUP", "SIGINT", "SIGQUIT", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGTERM"]),
});

/** POST /sandboxes/:id/processes/:pid/resize. */
export const processResizeBodySchema = terminalSizeSchema;

/** GET /sandboxes/:id/processes/:pid/output. */
export const processOutputQuerySchema = z.strictObject({
  history: z.enum(["true", "false"]).optional().meta({
    description:
      "start with what it printed so far (as far as the server keeps); true unless false",
  }),
});

export const sandboxInfoSchema = z
  .strictObject({
    sandboxId: z.string(),
    runtime: z.enum(RUNTIMES),
    image: z.string(),
    metadata: stringMap,
    state: z.enum(["running", "ended"]),
    startedAt: z.string(),
    endAt: z.string().meta({ description: "when it ends unless moved; once ended, when it did" }),
    endReason: z.string().optional(),
    pidsLimit: z.number(),
  })
  .meta({ id: "SandboxInfo" });

export const sandboxMetricsSchema = z
  .strictObject({
    cpuUsedPct: z
      .number()
      .meta({ description: "CPU in use since the last reading, % of one core" }),
    cpuCount: z.number(),
    memUsed: z.number(),
    memTotal: z.number(),
    diskUsed: z.number().meta({ description: "bytes in /sandbox and /tmp" }),
    diskTotal: z.number(),
    networkRxBytes: z.number(),
    networkTxBytes: z.number(),
    timestamp: z.string(),
  })
  .meta({ id: "SandboxMetrics" });

export const sandboxListSchema = z.strictObject({ sandboxes: z.array(sandboxInfoSchema) });

export const processInfoSchema = z
  .strictObject({
    pid: z.number(),
    cmd: z.string(),
    args: z.array(z.string()),
    cwd: z.string(),
    envs: stringMap,
    pty: z.boolean(),
    startedAt: z.string(),
  })
  .meta({ id: "ProcessInfo" });

export const processListSchema = z.strictObject({ processes: z.array(processInfoSchema) });

const commandResultSchema = z
  .strictObject({
    exitCode: z.number(),
    stdout: z.string(),
    stderr: z.string(),
    signal: z.string().optional(),
    timedOut: z.boolean(),
    cpuMs: z.number(),
  })
  .meta({ id: "CommandResult" });

/** POST .../processes/:pid (DELETE): whether it was running. */
export const processKilledSchema = z.strictObject({ killed: z.boolean() });

/**
 * One Server-Sent Event of a process's output stream: its output (base64,
 * since a terminal's bytes need not be text), then its end.
 */
const processOutputEventSchema = z
  .discriminatedUnion("type", [
    z.strictObject({
      type: z.enum(["stdout", "stderr"]),
      data: z.string().meta({ description: "base64" }),
    }),
    z.strictObject({ type: z.literal("exit"), result: commandResultSchema }),
    z.strictObject({ type: z.literal("error"), data: z.string(), code: z.string().optional() }),
  ])
  .meta({ id: "ProcessOutputEvent" });

export type WireSandboxInfo = z.infer<typeof sandboxInfoSchema>;
export type WireSandboxMetrics = z.infer<typeof sandboxMetricsSchema>;
export type WireProcessInfo = z.infer<typeof processInfoSchema>;
export type WireProcessOutputEvent = z.infer<typeof processOutputEventSchema>;
