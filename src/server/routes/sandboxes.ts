import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { signalNumber } from "../../engine/signals.js";
import { describeProcess } from "../../sandbox/commands.js";
import { CommandHandle } from "../../sandbox/handle.js";
import type { SandboxProcess } from "../../sandbox/process.js";
import type { Sandbox } from "../../sandbox/sandbox.js";
import type { ProcessInfo, SandboxInfo } from "../../sandbox/types.js";
import { okSchema } from "../../wire/responses.js";
import {
  createSandboxBodySchema,
  processInfoSchema,
  processKilledSchema,
  processListSchema,
  processOutputQuerySchema,
  processParamsSchema,
  processResizeBodySchema,
  processSignalBodySchema,
  processStdinBodySchema,
  sandboxInfoSchema,
  sandboxListSchema,
  sandboxMetricsSchema,
  sandboxParamsSchema,
  sandboxTimeoutBodySchema,
  startProcessBodySchema,
  type WireProcessInfo,
  type WireProcessOutputEvent,
  type WireSandboxInfo,
} from "../../wire/sandboxes.js";
import { admitOptions } from "../admission.js";
import type { AppEnv } from "../app-env.js";
import type { ServerContext } from "../context.js";
import { errorEvent, HttpError, toHttpError } from "../errors.js";
import { AUTHED, failures, jsonAnswer, jsonRequest, mount, routeGroup } from "../openapi.js";
import { heartbeat, ReaderBacklog, writeEvent } from "../reader-backlog.js";

/**
 * How far a client reading a process's output may fall behind before its
 * stream is ended with an error (it can reconnect and read the kept
 * history): the server never holds more than this per reader.
 */
const READER_BACKLOG_BYTES = 2 * 1024 * 1024;
/**
 * Output streams open at once on one sandbox, and stdin writes waiting on
 * one process: each holds memory (a reader's backlog, a write's body), so
 * both are counted, and one more is a 429.
 */
const MAX_READERS_PER_SANDBOX = 16;
const MAX_WAITING_WRITES = 4;
/** The `code` of the event that ends a reader's stream once it fell behind: reconnect without history. */
const READER_BEHIND = "OUTPUT_READER_BEHIND";

const TAGS = ["sandboxes"];

function wireSandboxInfo(info: SandboxInfo): WireSandboxInfo {
  return { ...info, startedAt: info.startedAt.toISOString(), endAt: info.endAt.toISOString() };
}

function wireProcessInfo(info: ProcessInfo): WireProcessInfo {
  return { ...info, startedAt: info.startedAt.toISOString() };
}

const createSandbox = createRoute({
  method: "post",
  path: "/sandboxes",
  operationId: "createSandbox",
  tags: TAGS,
  summary: "Start a long-lived sandbox",
  description:
    "A container that runs many processes and terminals at once until its timeout (default 5 minutes), DELETE, or the server's stop. `options` are engine options under the server's policy.",
  request: { body: jsonRequest(createSandboxBodySchema) },
  responses: {
    201: jsonAnswer("the sandbox runs", sandboxInfoSchema),
    ...failures(400, 413, 429, ...AUTHED),
  },
});

const listSandboxes = createRoute({
  method: "get",
  path: "/sandboxes",
  operationId: "listSandboxes",
  tags: TAGS,
  summary: "The tenant's sandboxes: running, then recently ended",
  responses: { 200: jsonAnswer("the sandboxes", sandboxListSchema), ...failures(...AUTHED) },
});

const getSandbox = createRoute({
  method: "get",
  path: "/sandboxes/{id}",
  operationId: "getSandbox",
  tags: TAGS,
  summary: "One sandbox of the tenant",
  request: { params: sandboxParamsSchema },
  responses: {
    200: jsonAnswer("the sandbox", sandboxInfoSchema),
    ...failures(400, 404, ...AUTHED),
  },
});

const killSandbox = createRoute({
  method: "delete",
  path: "/sandboxes/{id}",
  operationId: "killSandbox",
  tags: TAGS,
  summary: "Kill every process of a sandbox and remove its container",
  request: { params: sandboxParamsSchema },
  responses: { 200: jsonAnswer("it has ended", okSchema), ...failures(400, 404, ...AUTHED) },
});

const sandboxMetrics = createRoute({
  method: "get",
  path: "/sandboxes/{id}/metrics",
  operationId: "sandboxMetrics",
  tags: TAGS,
  summary: "What a sandbox uses now: CPU, memory, disk, network",
  request: { params: sandboxParamsSchema },
  responses: {
    200: jsonAnswer("its figures", sandboxMetricsSchema),
    ...failures(400, 404, 409, ...AUTHED),
  },
});

const setSandboxTimeout = createRoute({
  method: "post",
  path: "/sandboxes/{id}/timeout",
  operationId: "setSandboxTimeout",
  tags: TAGS,
  summary: "Make a sandbox end timeoutMs from now",
  request: { params: sandboxParamsSchema, body: jsonRequest(sandboxTimeoutBodySchema) },
  responses: {
    200: jsonAnswer("its new end", sandboxInfoSchema),
    ...failures(400, 404, 409, ...AUTHED),
  },
});

const startProcess = createRoute({
  method: "post",
  path: "/sandboxes/{id}/processes",
  operationId: "startProcess",
  tags: TAGS,
  summary: "Start a process (a command, or a program on a terminal) in the background",
  description:
    "Answers once it runs, with its pid; read its output and result from GET .../output.",
  request: { params: sandboxParamsSchema, body: jsonRequest(startProcessBodySchema) },
  responses: {
    201: jsonAnswer("it runs", processInfoSchema),
    ...failures(400, 404, 409, 413, ...AUTHED),
  },
});

const listProcesses = createRoute({
  method: "get",
  path: "/sandboxes/{id}/processes",
  operationId: "listProcesses",
  tags: TAGS,
  summary: "A sandbox's running processes",
  request: { params: sandboxParamsSchema },
  responses: {
    200: jsonAnswer("its processes", processListSchema),
    ...failures(400, 404, 409, ...AUTHED),
  },
});

const processOutput = createRoute({
  method: "get",
  path: "/sandboxes/{id}/processes/{pid}/output",
  operationId: "processOutput",
  tags: TAGS,
  summary: "A process's output as Server-Sent Events, then its result",
  description:
    "Each event is `data: <ProcessOutputEvent JSON>`: output (base64), what it printed before (unless history=false), then `exit` with its result. Disconnecting leaves the process running. A running process, or one of the last 32 that ended.",
  request: { params: processParamsSchema, query: processOutputQuerySchema },
  responses: {
    200: {
      description: "the event stream",
      content: {
        "text/event-stream": {
          schema: z.string().meta({
            description: "events of `data: <ProcessOutputEvent JSON>` and a blank line",
          }),
        },
      },
    },
    ...failures(400, 404, 409, ...AUTHED),
  },
});

const processStdin = createRoute({
  method: "post",
  path: "/sandboxes/{id}/processes/{pid}/stdin",
  operationId: "processStdin",
  tags: TAGS,
  summary: "Write to a process's standard input (keystrokes, for a terminal), and end it with eof",
  request: { params: processParamsSchema, body: jsonRequest(processStdinBodySchema) },
  responses: { 200: jsonAnswer("taken", okSchema), ...failures(400, 404, 409, 413, ...AUTHED) },
});

const processSignal = createRoute({
  method: "post",
  path: "/sandboxes/{id}/processes/{pid}/signal",
  operationId: "processSignal",
  tags: TAGS,
  summary: "Send a signal to a process's group",
  request: { params: processParamsSchema, body: jsonRequest(processSignalBodySchema) },
  responses: { 200: jsonAnswer("sent", okSchema), ...failures(400, 404, 409, ...AUTHED) },
});

const processResize = createRoute({
  method: "post",
  path: "/sandboxes/{id}/processes/{pid}/resize",
  operationId: "processResize",
  tags: TAGS,
  summary: "Resize a process's terminal (it gets SIGWINCH)",
  request: { params: processParamsSchema, body: jsonRequest(processResizeBodySchema) },
  responses: { 200: jsonAnswer("resized", okSchema), ...failures(400, 404, 409, ...AUTHED) },
});

const killProcess = createRoute({
  method: "delete",
  path: "/sandboxes/{id}/processes/{pid}",
  operationId: "killProcess",
  tags: TAGS,
  summary: "Kill a process and its group; answers once it has ended",
  request: { params: processParamsSchema },
  responses: {
    200: jsonAnswer("whether it was running", processKilledSchema),
    ...failures(400, 404, 409, ...AUTHED),
  },
});

/**
 * Long-lived sandboxes of the caller's tenant (src/sandbox/ through
 * sandboxes.ts): made, listed, timed and killed; their processes started in
 * the background, read as an event stream from any client, written to,
 * signalled, resized and killed. The checks of every value are the
 * library's, so a refusal reads as it does locally.
 */
export function sandboxRoutes(ctx: ServerContext) {
  const app = routeGroup();
  /** Output streams open per sandbox, and stdin writes waiting per process. */
  const readers = new WeakMap<Sandbox, number>();
  const writes = new WeakMap<SandboxProcess, number>();
  const tenant = (c: Context<AppEnv>) => c.get("principal").tenantId;
  const sandboxOf = (c: Context<AppEnv>, id: string): Sandbox => ctx.sandboxes.get(tenant(c), id);
  const running = (sandbox: Sandbox, pid: number) => {
    const process = sandbox.table.get(pid);
    sandbox.assertRunning();
    if (!process)
      throw new HttpError(
        404,
        `no running process with pid ${pid} in this sandbox`,
        {},
        "PROCESS_NOT_FOUND",
      );
    return process;
  };

  mount(app, createSandbox, async (c) => {
    const { options, ...sandboxOptions } = c.req.valid("json");
    const sandbox = await ctx.sandboxes.create(
      tenant(c),
      sandboxOptions,
      admitOptions(ctx.config, options),
    );
    return c.json(wireSandboxInfo(sandbox.info()), 201);
  });

  mount(app, listSandboxes, (c) =>
    c.json({ sandboxes: ctx.sandboxes.list(tenant(c)).map(wireSandboxInfo) }, 200),
  );

  mount(app, getSandbox, (c) =>
    c.json(wireSandboxInfo(sandboxOf(c, c.req.valid("param").id).info()), 200),
  );

  mount(app, killSandbox, async (c) => {
    await sandboxOf(c, c.req.valid("param").id).kill();
    return c.json({ ok: true } as const, 200);
  });

  mount(app, sandboxMetrics, async (c) => {
    const metrics = await sandboxOf(c, c.req.valid("param").id).getMetrics();
    return c.json({ ...metrics, timestamp: metrics.timestamp.toISOString() }, 200);
  });

  mount(app, setSandboxTimeout, async (c) => {
    const sandbox = sandboxOf(c, c.req.valid("param").id);
    const { timeoutMs } = c.req.valid("json");
    ctx.sandboxes.checkLimits(timeoutMs);
    await sandbox.setTimeout(timeoutMs);
    return c.json(wireSandboxInfo(sandbox.info()), 200);
  });

  mount(app, startProcess, async (c) => {
    const sandbox = sandboxOf(c, c.req.valid("param").id);
    const { cmd, pty, stdin, ...options } = c.req.valid("json");
    const handle = pty
      ? await sandbox.pty.create({ ...options, ...pty, cmd })
      : await sandbox.commands.run(cmd ?? [], {
          ...options,
          stdin: stdin ?? false,
          background: true,
        });
    // Looked up again: a process that already ended is among the table's recent ones.
    const process = sandbox.table.lookup(handle.pid);
    if (!process) throw new HttpError(500, "a started process is not in its sandbox's table");
    return c.json(wireProcessInfo(describeProcess(process)), 201);
  });

  mount(app, listProcesses, async (c) => {
    const sandbox = sandboxOf(c, c.req.valid("param").id);
    const processes = await sandbox.commands.list();
    return c.json({ processes: processes.map(wireProcessInfo) }, 200);
  });

  mount(app, processOutput, (c) => {
    const { id, pid } = c.req.valid("param");
    const sandbox = sandboxOf(c, id);
    sandbox.assertRunning();
    const process = sandbox.table.lookup(pid);
    if (!process)
      throw new HttpError(
        404,
        `no process with pid ${pid} in this sandbox`,
        {},
        "PROCESS_NOT_FOUND",
      );
    const replay = c.req.valid("query").history !== "false";
    const open = readers.get(sandbox) ?? 0;
    if (open >= MAX_READERS_PER_SANDBOX)
      throw new HttpError(
        429,
        `this sandbox has ${open} output streams open, its most (${MAX_READERS_PER_SANDBOX}); close one first`,
      );
    readers.set(sandbox, open + 1);
    return streamSSE(c, async (stream) => {
      const backlog = new ReaderBacklog<WireProcessOutputEvent>(READER_BACKLOG_BYTES);
      const stop = process.subscribe(
        (chunk) =>
          backlog.push(
            { type: chunk.stream, data: chunk.data.toString("base64") },
            chunk.data.length,
          ),
        replay,
      );
      void process.wait().then(() => backlog.finish());
      stream.onAbort(() => {
        stop();
        backlog.finish();
      });
      const stopBeating = heartbeat(stream, ctx.config.heartbeatMs);
      try {
        for (let event = await backlog.next(); event; event = await backlog.next()) {
          if (stream.aborted) return;
          await writeEvent(stream, event);
        }
        if (stream.aborted) return;
        if (backlog.behind) {
          const refusal = new HttpError(
            409,
            `this reader fell more than ${READER_BACKLOG_BYTES} bytes behind the process's output; reconnect to read what is kept`,
            {},
            READER_BEHIND,
          );
          await writeEvent(stream, errorEvent(refusal));
          return;
        }
        const result = await new CommandHandle(process, () => () => false).wait();
        await writeEvent(stream, { type: "exit", result });
      } catch (error) {
        await writeEvent(stream, errorEvent(toHttpError(error))).catch(() => undefined);
      } finally {
        stopBeating();
        stop();
        readers.set(sandbox, (readers.get(sandbox) ?? 1) - 1);
      }
    });
  });

  mount(app, processStdin, async (c) => {
    const { id, pid } = c.req.valid("param");
    const process = running(sandboxOf(c, id), pid);
    const { data, encoding, eof } = c.req.valid("json");
    const waiting = writes.get(process) ?? 0;
    if (waiting >= MAX_WAITING_WRITES)
      throw new HttpError(
        429,
        `${waiting} writes to this process's stdin are waiting for it to read; wait for one to finish`,
      );
    writes.set(process, waiting + 1);
    try {
      if (data !== undefined) await process.write(Buffer.from(data, encoding ?? "utf8"));
      if (eof) await process.endStdin();
    } finally {
      writes.set(process, (writes.get(process) ?? 1) - 1);
    }
    return c.json({ ok: true } as const, 200);
  });

  mount(app, processSignal, (c) => {
    const { id, pid } = c.req.valid("param");
    running(sandboxOf(c, id), pid).signal(signalNumber(c.req.valid("json").signal));
    return c.json({ ok: true } as const, 200);
  });

  mount(app, processResize, async (c) => {
    const { id, pid } = c.req.valid("param");
    await sandboxOf(c, id).pty.resize(pid, c.req.valid("json"));
    return c.json({ ok: true } as const, 200);
  });

  mount(app, killProcess, async (c) => {
    const { id, pid } = c.req.valid("param");
    return c.json({ killed: await sandboxOf(c, id).commands.kill(pid) }, 200);
  });

  return app;
}
