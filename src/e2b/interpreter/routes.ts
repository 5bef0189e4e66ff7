/**
 * E2B's code interpreter (`@e2b/code-interpreter`: what E2B serves on port
 * 49999 of a sandbox) on isol8: `POST /execute` runs code in a stateful
 * context and streams its output as JSON lines; `/contexts` creates, lists,
 * restarts and removes contexts. Each context is a kernel process of the
 * sandbox itself (kernel.ts), so its code sees the sandbox's files and
 * processes, as on E2B. Python contexts run in python sandboxes, JavaScript
 * ones in node sandboxes.
 */
import { randomUUID } from "node:crypto";
import type { Context } from "hono";
import { stream } from "hono/streaming";
import { z } from "zod";
import type { Runtime } from "../../runtimes/runtime.js";
import type { Sandbox } from "../../sandbox/sandbox.js";
import type { AppEnv } from "../../server/app-env.js";
import { HttpError } from "../../server/errors.js";
import { jsonBody } from "../../server/validate.js";
import { sandboxPath } from "../envd/paths.js";
import { type CellResult, KernelGoneError, SandboxKernel } from "./kernel.js";

/** The port E2B's SDK names (E2b-Sandbox-Port) for the code interpreter. */
export const INTERPRETER_PORT = "49999";
/** Contexts one sandbox may hold at once. */
const CONTEXTS_PER_SANDBOX = 8;

const LANGUAGES: Record<string, Runtime> = {
  python: "python",
  js: "node",
  javascript: "node",
};

interface CodeContext {
  id: string;
  language: string;
  cwd: string;
  kernel: Promise<SandboxKernel>;
}

const executeBody = z.object({
  code: z.string(),
  context_id: z.string().nullish(),
  language: z.string().nullish(),
  env_vars: z.record(z.string(), z.string()).nullish(),
});
const contextBody = z.object({ language: z.string().nullish(), cwd: z.string().nullish() });

/** An error's name as a traceback's line names it: `ZeroDivisionError: ...`, `Uncaught ReferenceError: ...`. */
const ERROR_LINE =
  /^(?:Uncaught )?([A-Za-z_$][\w.$]*(?:Error|Exception|Interrupt|Exit))(?:: ?(.*))?$/;

/** `Name: value` of the last line of a traceback that names an error (python's and node's alike). */
function errorOf(traceback: string): { name: string; value: string } {
  const lines = traceback.trimEnd().split("\n").reverse();
  for (const line of lines) {
    const match = ERROR_LINE.exec(line.trim());
    if (match?.[1]) return { name: match[1], value: match[2] ?? "" };
  }
  return { name: "Error", value: lines[0] ?? "" };
}

/** A cell's result as E2B's result lines: its rich outputs, then its value as the main result. */
function resultLines(result: CellResult): object[] {
  const lines: object[] = result.outputs.map((output) => ({
    type: "result",
    is_main_result: false,
    ...(output.type === "image/png"
      ? { png: output.data }
      : output.type === "image/svg+xml"
        ? { svg: output.data }
        : { html: output.data }),
  }));
  if (result.value !== undefined)
    lines.push({ type: "result", is_main_result: true, text: result.value });
  return lines;
}

/** A context's kernel before its start is asked for (never awaited). */
const NO_KERNEL: Promise<SandboxKernel> = new Promise(() => undefined);

/** Kills a context's kernel, once it has started (or failed to). */
function stopKernel(context: CodeContext): Promise<void> {
  return context.kernel.then(
    (kernel) => kernel.kill(),
    () => undefined,
  );
}

/** The code interpreter of every sandbox of the E2B face. */
export class Interpreter {
  private readonly contexts = new WeakMap<Sandbox, Map<string, CodeContext>>();

  async answer(c: Context<AppEnv>, sandbox: Sandbox, path: string): Promise<Response> {
    const method = c.req.method;
    if (method === "POST" && path === "/execute") return this.execute(c, sandbox);
    if (method === "POST" && path === "/contexts") {
      const body = await jsonBody(c, contextBody);
      const context = this.create(sandbox, body.language ?? "python", body.cwd ?? "/home/user");
      await context.kernel;
      return c.json(this.describe(context), 200);
    }
    if (method === "GET" && path === "/contexts")
      return c.json(
        [...this.of(sandbox).values()].map((context) => this.describe(context)),
        200,
      );
    const match = /^\/contexts\/([^/]+)(\/restart)?$/.exec(path);
    const context = match?.[1] ? this.of(sandbox).get(match[1]) : undefined;
    if (match && !context) throw new HttpError(404, `no context ${JSON.stringify(match[1])}`);
    if (context && method === "DELETE" && !match?.[2]) {
      // Gone from the list once its kernel is: a kernel still starting counts against the limit.
      await stopKernel(context);
      this.of(sandbox).delete(context.id);
      return c.body(null, 204);
    }
    if (context && method === "POST" && match?.[2]) {
      // The old kernel goes before the new one starts: a context never holds two.
      const stopped = stopKernel(context);
      this.setKernel(
        sandbox,
        context,
        stopped.then(() => this.startKernel(sandbox, context)),
      );
      await context.kernel;
      return c.body(null, 204);
    }
    throw new HttpError(404, `the code interpreter has no route ${method} ${path}`);
  }

  private async execute(c: Context<AppEnv>, sandbox: Sandbox): Promise<Response> {
    const body = await jsonBody(c, executeBody);
    if (body.context_id && body.language)
      throw new HttpError(400, "context_id, language: give one or the other");
    if (body.env_vars && Object.keys(body.env_vars).length > 0)
      throw new HttpError(
        400,
        "env_vars: per-execution environment variables are not supported yet; set them when the sandbox is created",
      );
    const context = body.context_id
      ? this.of(sandbox).get(body.context_id)
      : this.defaultContext(sandbox, body.language ?? "python");
    if (!context) throw new HttpError(404, `no context ${JSON.stringify(body.context_id)}`);
    const kernel = await this.liveKernel(sandbox, context);
    const run = kernel.reserve();
    const gone = new AbortController();
    return stream(c, async (out) => {
      out.onAbort(() => gone.abort());
      const line = (value: object) => out.write(`${JSON.stringify(value)}\n`);
      let writes: Promise<unknown> = Promise.resolve();
      const emit = (output: { type: "stdout" | "stderr"; data: string }) => {
        writes = writes.then(() =>
          line({ type: output.type, text: output.data, timestamp: new Date().toISOString() }),
        );
      };
      let counted = kernel;
      try {
        const result = await run(body.code, emit, gone.signal).catch(async (error: unknown) => {
          // The kernel died while the cell waited (a cell before it ended it): a fresh one runs it.
          if (!(error instanceof KernelGoneError)) throw error;
          counted = await this.liveKernel(sandbox, context);
          return counted.reserve()(body.code, emit, gone.signal);
        });
        await writes;
        for (const resultLine of resultLines(result)) await line(resultLine);
        if (result.status !== "ok")
          await line({
            type: "error",
            ...errorOf(result.traceback ?? ""),
            traceback: result.traceback ?? "",
          });
      } catch (error) {
        await writes;
        await line({
          type: "error",
          name: "ContextError",
          value: (error as Error).message,
          traceback: "",
        });
      }
      await line({ type: "number_of_executions", execution_count: counted.count });
      await line({ type: "end_of_execution" });
    });
  }

  /** The context's kernel; one that died (its cell exited it, a command killed it) is started again. */
  private async liveKernel(sandbox: Sandbox, context: CodeContext): Promise<SandboxKernel> {
    const kernel = await context.kernel;
    if (kernel.alive) return kernel;
    // One restart for all who find it dead at once.
    if ((await context.kernel) === kernel)
      this.setKernel(sandbox, context, this.startKernel(sandbox, context));
    return context.kernel;
  }

  private of(sandbox: Sandbox): Map<string, CodeContext> {
    let contexts = this.contexts.get(sandbox);
    if (!contexts) {
      contexts = new Map();
      this.contexts.set(sandbox, contexts);
    }
    return contexts;
  }

  private defaultContext(sandbox: Sandbox, language: string): CodeContext {
    const id = `default-${language}`;
    return this.of(sandbox).get(id) ?? this.create(sandbox, language, "/home/user", id);
  }

  private create(
    sandbox: Sandbox,
    language: string,
    cwd: string,
    id: string = randomUUID(),
  ): CodeContext {
    const contexts = this.of(sandbox);
    if (contexts.size >= CONTEXTS_PER_SANDBOX)
      throw new HttpError(
        429,
        `this sandbox has ${contexts.size} contexts, its most; remove one first`,
      );
    const context: CodeContext = { id, language, cwd, kernel: NO_KERNEL };
    contexts.set(id, context);
    this.setKernel(sandbox, context, this.startKernel(sandbox, context));
    return context;
  }

  /** Gives a context its kernel; a context whose kernel cannot start is not kept. */
  private setKernel(sandbox: Sandbox, context: CodeContext, kernel: Promise<SandboxKernel>): void {
    context.kernel = kernel;
    kernel.catch(() => {
      const contexts = this.of(sandbox);
      if (contexts.get(context.id) === context && context.kernel === kernel)
        contexts.delete(context.id);
    });
  }

  private startKernel(sandbox: Sandbox, context: CodeContext): Promise<SandboxKernel> {
    const { language, cwd } = context;
    const runtime = LANGUAGES[language];
    if (!runtime)
      return Promise.reject(
        new HttpError(
          400,
          `language: ${JSON.stringify(language)} is not one of ${Object.keys(LANGUAGES).join(", ")}`,
        ),
      );
    const own = sandbox.info().runtime;
    if (own !== runtime)
      return Promise.reject(
        new HttpError(
          400,
          `language: ${language} contexts run in a sandbox of the ${runtime} template; this one is ${own}`,
        ),
      );
    return SandboxKernel.start(sandbox, runtime, sandboxPath(cwd));
  }

  private describe(context: CodeContext) {
    return { id: context.id, language: context.language, cwd: context.cwd };
  }
}
