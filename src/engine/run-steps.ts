import { posix } from "node:path";
import type { EgressChannel, RunNetworkRecord } from "../network/gateway.js";
import type { EgressPolicy } from "../network/policy.js";
import { withheldReason } from "../output/redact.js";
import type { SecretSet } from "../output/secret-masker.js";
import { TextStream } from "../output/text-stream.js";
import type { ExecutionSummary } from "../types.js";
import type { DebugLog } from "./debug-log.js";
import type { ExitReport } from "./protocol.js";
import type { Phase, PrepStep, RunPlan } from "./run-plan.js";
import { type OutputSink, type SandboxContainer, SandboxFailure } from "./sandbox-container.js";
import { readSandboxFile, SandboxFileError, SandboxFileTooLargeError } from "./session-files.js";

/**
 * Carrying out a planned run in one container: each preparation step, then
 * the program, under one time budget, with the gateway's policy set per step.
 */

/** A decoded, masked chunk of a run's output, tagged with its phase when the run has steps that show output. */
export type OutputEvent = { type: "stdout" | "stderr"; data: string; phase?: Phase };

/** The files a run's `outputPaths` named: returned (path -> base64), left out by size or error, or withheld for holding a secret. */
type OutputFiles = Pick<ExecutionSummary, "files" | "fileErrors" | "withheldFiles">;

/** What the engine gives a run besides its container and plan. */
interface StepContext {
  secrets: SecretSet;
  log: DebugLog;
  /** The engine's gateway policy (filtered network); a step may widen it while it runs. */
  basePolicy: EgressPolicy | undefined;
  /** The container's gateway channel, when it has one. */
  egress: EgressChannel | undefined;
  /** Bytes the `outputPaths` files may take together. */
  maxOutputBytes: number;
  /** The deadline of one file read. */
  fileTimeoutMs: number;
  emit(event: OutputEvent): void;
  /** Called once, as soon as the first run frame is on its way to the supervisor. */
  started(): void;
  stdin?: Buffer;
  keepStdinOpen: boolean;
  /** The files to read back after the program, before the container is wiped. */
  outputPaths?: string[];
}

/** How the run went in its container. */
export interface StepsOutcome {
  report: ExitReport;
  /** The step that failed; the program did not run. */
  failedPhase?: PrepStep["phase"];
  files: OutputFiles;
  network: RunNetworkRecord | undefined;
}

/** Runs `plan` in `container`. A failing hidden step throws SandboxFailure; any other failure is in the outcome. */
export async function runSteps(
  container: SandboxContainer,
  plan: RunPlan,
  context: StepContext,
): Promise<StepsOutcome> {
  const { egress, basePolicy, log } = context;
  egress?.takeLog(); // what an earlier run left behind is not this run's
  const output = phaseOutputs(plan, context);
  let budgetMs = plan.program.timeoutMs;
  let failed: { report: ExitReport; phase: PrepStep["phase"] } | undefined;
  // One timeout covers every step and the program alike.
  for (const step of plan.steps) {
    if (egress && basePolicy) egress.policy = step.policy ?? basePolicy;
    const phase = output(step.phase);
    const stepStarted = performance.now();
    const running = log.time(step.phase, () =>
      container.run({ ...step.spec, timeoutMs: budgetMs }, phase.sink),
    );
    context.started();
    const report = await running;
    phase.flush();
    budgetMs -= Math.round(performance.now() - stepStarted);
    if (report.exitCode !== 0 || report.timedOut || budgetMs <= 0) {
      failed = {
        report: { ...report, timedOut: report.timedOut || budgetMs <= 0 },
        phase: step.phase,
      };
      break;
    }
  }
  // Whatever happened, the program (and any later user of this container) gets the base policy.
  if (egress && basePolicy) egress.policy = basePolicy;
  let report: ExitReport;
  let files: OutputFiles = {};
  if (failed) {
    report = failed.report;
    if (failed.phase === "hidden")
      throw new SandboxFailure(`preparing the sandbox failed (exit ${report.exitCode})`);
  } else {
    const code = output("code");
    // The run request is on its way before the caller hears of the
    // container, so a signal it sends at once already has a program to reach.
    const running = log.time("run", () =>
      container.run(
        { ...plan.program, timeoutMs: budgetMs },
        code.sink,
        context.stdin,
        context.keepStdinOpen,
      ),
    );
    context.started();
    report = await running;
    code.flush();
    if (context.outputPaths) files = await collectOutputs(container, context.outputPaths, context);
  }
  const network = egress ? await egress.settledLog() : undefined;
  egress?.dropConnections();
  return { report, failedPhase: failed?.phase, files, network };
}

/** Per phase: the masked, decoded output of that phase, emitted as it comes. */
function phaseOutputs(plan: RunPlan, context: StepContext) {
  const phased = plan.steps.some((step) => step.phase !== "hidden");
  return (phase: Phase | "hidden") => {
    const streams = {
      stdout: new TextStream(context.secrets),
      stderr: new TextStream(context.secrets),
    };
    const send = (type: "stdout" | "stderr", data: string) => {
      if (!data || phase === "hidden") return;
      context.emit(phased ? { type, data, phase } : { type, data });
    };
    const sink: OutputSink = {
      stdout: (chunk) => send("stdout", streams.stdout.push(chunk)),
      stderr: (chunk) => send("stderr", streams.stderr.push(chunk)),
    };
    const flush = () => {
      send("stdout", streams.stdout.end());
      send("stderr", streams.stderr.end());
    };
    return { sink, flush };
  };
}

/**
 * Reads the requested output files from the container the run used,
 * before it is wiped. Together they may hold `maxOutputBytes` bytes: each
 * file's size is reserved against what is left before it is read, so one
 * that does not fit is refused by its size and none of it crosses the
 * channel. What is left out is said in `fileErrors`, by path; a file
 * holding a secret is withheld whole (named in `withheldFiles`), never edited.
 */
async function collectOutputs(
  container: SandboxContainer,
  paths: string[],
  context: StepContext,
): Promise<OutputFiles> {
  const files: Record<string, string> = {};
  const errors: Record<string, string> = {};
  const withheld: string[] = [];
  let left = context.maxOutputBytes;
  for (const path of new Set(paths.map((p) => posix.normalize(p)))) {
    try {
      const content = await readSandboxFile(container, path, left, context.fileTimeoutMs);
      left -= content.length;
      if (withheldReason(content, context.secrets)) withheld.push(path);
      else files[path] = content.toString("base64");
    } catch (error) {
      if (!(error instanceof SandboxFileError)) throw error;
      errors[path] =
        error instanceof SandboxFileTooLargeError
          ? `${error.reason}: the files of outputPaths share maxOutputSize (${context.maxOutputBytes} bytes)`
          : error.reason;
      context.log(`output ${path} left out: ${error.message}`);
    }
  }
  return {
    files,
    ...(Object.keys(errors).length ? { fileErrors: errors } : {}),
    ...(withheld.length ? { withheldFiles: withheld } : {}),
  };
}
