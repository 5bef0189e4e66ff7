import { collectResult } from "../engine/collect-result.js";
import type { DockerIsol8, SandboxSignal } from "../engine/docker-isol8.js";
import { InvalidOptionError } from "../engine/errors.js";
import type { SecretSet } from "../output/secret-masker.js";
import { type RemoteCodePolicy, remoteCodePolicy } from "../remote-code/policy.js";
import type { ExecutionRequest, ExecutionResult, StreamEvent } from "../types.js";
import type { ExecuteBody } from "../wire/schemas.js";
import { admit } from "./admission.js";
import { type AuditLog, sha256Hex } from "./audit.js";
import type { Principal } from "./auth/authenticator.js";
import type { ServerConfig } from "./config.js";
import type { EnginePool } from "./engine-pool.js";
import { HttpError } from "./errors.js";
import type { Outcome, ServerMetrics } from "./metrics.js";
import type { SessionManager } from "./sessions.js";
import type { ExecutionSlots } from "./slots.js";

/** What an execution needs from the server around it. */
interface ExecutionDeps {
  config: ServerConfig;
  slots: ExecutionSlots;
  engines: EnginePool;
  sessions: SessionManager;
  metrics: ServerMetrics;
  audit: AuditLog | undefined;
  /** `request.codeUrl`'s policy, resolved from `config.remoteCode` (CA files read) once. */
  remoteCode?: RemoteCodePolicy;
}

/**
 * A started execution: its events (the last is `exit`), and a way to signal
 * the program. Its slot is held until `events` has been iterated to its end
 * (or thrown, or returned early), so a caller must always iterate it.
 */
export interface ServerRun {
  events: AsyncGenerator<StreamEvent>;
  kill(signal: SandboxSignal): void;
  /** More standard input, for a run started with `openStdin`; resolves once the sandbox has taken it (see StreamRun.write). */
  write(data: string): Promise<void>;
  /** End of standard input. */
  end(): void;
}

/**
 * The one execution path behind /execute, /execute/stream and /execute/ws:
 * admission (admission.ts: every check that can refuse the request), a slot
 * (429 when full), the engine (a warm shared one, or the caller's session),
 * then metrics and the audit log when the run ends.
 */
export class Executions {
  private readonly remoteCode: RemoteCodePolicy;

  constructor(private readonly deps: ExecutionDeps) {
    this.remoteCode = deps.remoteCode ?? remoteCodePolicy(deps.config.remoteCode);
  }

  /**
   * Admits a request, takes a slot for it and starts it; with `openStdin`
   * its standard input stays open for `write` until `end`. Everything that
   * can refuse it (400, 403, 404, 429, 502) throws here, before any output; `abort` cancels it,
   * waiting or running, and frees its container.
   */
  async start(
    principal: Principal,
    body: ExecuteBody,
    abort: AbortSignal,
    openStdin = false,
  ): Promise<ServerRun> {
    const { config, slots } = this.deps;
    const { request, options, secrets } = await admit(
      { config, remoteCode: this.remoteCode, sessions: this.deps.sessions },
      principal,
      body,
      abort,
    );
    const started = performance.now();
    const release = await slots.enter(abort);
    let held: { engine: DockerIsol8; release: () => void } | undefined;
    try {
      held = body.sessionId
        ? await this.deps.sessions.forExecution(
            principal.tenantId,
            body.sessionId,
            options,
            body.options !== undefined,
          )
        : this.deps.engines.acquire(options);
      const engine = held;
      const run = contextChecked(() =>
        engine.engine.executeStream(request, {
          signal: abort,
          openStdin,
          ...(config.engines.shareAcrossTenants ? {} : { tenant: principal.tenantId }),
        }),
      );
      const done = (outcome: Outcome, exit?: StreamExit) => {
        engine.release();
        release();
        this.record(principal, body, request, outcome, started, exit, secrets);
      };
      return {
        events: this.observe(run, abort, done),
        kill: (signal) => run.kill(signal),
        write: (data) => run.write(data),
        end: () => run.end(),
      };
    } catch (error) {
      held?.release();
      release();
      throw error;
    }
  }

  /** Passes events through and reports how the run ended, whichever way it ends. */
  private async *observe(
    run: AsyncGenerator<StreamEvent>,
    abort: AbortSignal,
    done: (outcome: Outcome, exit?: StreamExit) => void,
  ): AsyncGenerator<StreamEvent> {
    let exit: StreamExit | undefined;
    let outcome: Outcome = "failed";
    try {
      for await (const event of run) {
        if (event.type === "exit") {
          exit = event.result;
          outcome = outcomeOf(exit);
        }
        yield event;
      }
    } finally {
      if (!exit && abort.aborted) outcome = "cancelled";
      done(outcome, exit);
    }
  }

  private record(
    principal: Principal,
    body: ExecuteBody,
    request: ExecutionRequest,
    outcome: Outcome,
    started: number,
    exit: StreamExit | undefined,
    secrets: SecretSet,
  ): void {
    const { metrics, audit } = this.deps;
    const durationMs = Math.round(performance.now() - started);
    metrics.execution(body.request.runtime, outcome, durationMs / 1000);
    audit?.write({
      time: new Date().toISOString(),
      executionId: exit?.executionId ?? null,
      tenantId: principal.tenantId,
      keyId: principal.keyId ?? null,
      sessionId: body.sessionId ?? null,
      runtime: body.request.runtime,
      codeSha256: sha256Hex(request.code ?? request.cmd ?? ""),
      exitCode: exit?.exitCode ?? null,
      outcome,
      durationMs: exit?.durationMs ?? durationMs,
      resourceUsage: exit?.resourceUsage ?? null,
      // The client's own words, but the audit log must not hold a secret either.
      metadata: body.request.metadata ? maskedRecord(body.request.metadata, secrets) : null,
    });
  }
}

function maskedRecord(record: Record<string, string>, secrets: SecretSet): Record<string, string> {
  if (secrets.empty) return record;
  return Object.fromEntries(
    Object.entries(record).map(([key, value]) => [secrets.mask(key), secrets.mask(value)]),
  );
}

type StreamExit = Extract<StreamEvent, { type: "exit" }>["result"];

function outcomeOf(result: StreamExit): Outcome {
  if (result.timedOut) return "timeout";
  if (result.oomKilled) return "oom";
  return result.exitCode === 0 ? "ok" : "nonzero";
}

/** A context call's refusal (unknown id, other runtime) as the 400 it is, named like other request fields. */
function contextChecked<T>(start: () => T): T {
  try {
    return start();
  } catch (error) {
    if (error instanceof InvalidOptionError) throw new HttpError(400, `request.${error.message}`);
    throw error;
  }
}

/** Collects a run into the ExecutionResult that POST /execute answers with. */
export async function collect(run: ServerRun): Promise<ExecutionResult> {
  return (await collectResult(run.events)).result;
}
