import type { RunNetworkRecord } from "../network/gateway.js";
import { redactNetworkLog } from "../output/redact.js";
import type { SecretSet } from "../output/secret-masker.js";
import {
  type ExecutionResult,
  type ExecutionSummary,
  type ResourceUsage,
  type Runtime,
  TIMEOUT_EXIT_CODE,
} from "../types.js";
import type { ResolvedOptions } from "./options.js";
import type { ExitReport } from "./protocol.js";
import type { StepsOutcome } from "./run-steps.js";

/** What the engine knew of a run before its container did anything. */
interface RunStart {
  executionId: string;
  runtime: Runtime;
  timestamp: string;
  /** `performance.now()` when the run was asked for. */
  startedAt: number;
}

/** A run's outcome in its container, as the summary every face returns. */
export function runSummary(
  start: RunStart,
  outcome: StepsOutcome & { containerId: string; fresh: boolean },
  options: Pick<ResolvedOptions, "logNetwork">,
  secrets: SecretSet,
): ExecutionSummary {
  const { report, containerId, fresh, files, failedPhase, network } = outcome;
  return {
    // The supervisor's SIGKILL of a timed-out run reads 137, like an OOM kill; the result says which.
    exitCode: report.timedOut ? TIMEOUT_EXIT_CODE : report.exitCode,
    durationMs: Math.round(performance.now() - start.startedAt),
    truncated: report.stdoutTruncated || report.stderrTruncated,
    timedOut: report.timedOut,
    oomKilled: report.oomKilled,
    executionId: start.executionId,
    runtime: start.runtime,
    timestamp: start.timestamp,
    containerId,
    resourceUsage: resourceUsage(report, fresh, network),
    ...files,
    ...(failedPhase === "setup" ? { setupFailed: true } : {}),
    ...(failedPhase === "install" ? { installFailed: true } : {}),
    ...(options.logNetwork
      ? { networkLogs: (network?.entries ?? []).map((entry) => redactNetworkLog(entry, secrets)) }
      : {}),
  };
}

/**
 * The cgroup's peak covers a container's whole life, so it is the run's own
 * only in a fresh container; in a reused one the run's largest process is
 * the best measure there is.
 */
function resourceUsage(
  report: ExitReport,
  freshContainer: boolean,
  network: RunNetworkRecord | undefined,
): ResourceUsage {
  const cpuTimeMs = report.cpuMicros / 1000;
  const wallMs = report.wallMicros / 1000;
  const peakBytes =
    freshContainer && report.containerPeakBytes > 0
      ? report.containerPeakBytes
      : report.maxRssBytes;
  return {
    cpuPercent: wallMs > 0 ? Math.round((cpuTimeMs / wallMs) * 1000) / 10 : 0,
    memoryMB: Math.round((peakBytes / (1024 * 1024)) * 10) / 10,
    cpuTimeMs: Math.round(cpuTimeMs),
    networkBytesIn: network?.bytesIn ?? 0,
    networkBytesOut: network?.bytesOut ?? 0,
  };
}

/** What a streamed run says in `error` events before `exit`. */
export function noticesFor(
  result: Pick<
    ExecutionResult,
    | "timedOut"
    | "oomKilled"
    | "truncated"
    | "setupFailed"
    | "installFailed"
    | "exitCode"
    | "withheldFiles"
  >,
  options: Pick<ResolvedOptions, "memoryBytes" | "maxOutputBytes">,
  timeoutMs: number,
): string[] {
  const notices: string[] = [];
  if (result.installFailed)
    notices.push(`installing packages failed (exit ${result.exitCode}); the program did not run`);
  if (result.setupFailed)
    notices.push(`setup script failed (exit ${result.exitCode}); the program did not run`);
  if (result.timedOut)
    notices.push(`timed out after ${timeoutMs} ms; every process of the run was killed`);
  if (result.oomKilled)
    notices.push(
      `out of memory: a process was killed at the ${options.memoryBytes}-byte memory limit`,
    );
  if (result.truncated) notices.push(`output truncated at ${options.maxOutputBytes} bytes`);
  for (const path of result.withheldFiles ?? [])
    notices.push(`outputPaths: ${path} withheld: it contains the value of a secret`);
  return notices;
}
