import type { ExitReport } from "../engine/protocol.js";
import { TIMEOUT_EXIT_CODE } from "../types.js";
import type { CellEnd } from "./cell.js";

/**
 * What a cell's call reports about how it ended: its exit code and usage,
 * whether the context was restarted, and the notices a stream gives before
 * its `exit` event. Pure (test/unit/contexts-outcome.test.ts).
 */

/** How a kernel's run ended: its exit report, or the failure that ended it. */
export interface KernelEnd {
  report?: ExitReport;
  error?: Error;
}

/**
 * Why a kernel is gone, as the rest of "the context's interpreter ..." reads:
 * the engine's reason when it killed it, else what its run's end says.
 */
export function kernelEndReason(end: KernelEnd, killReason: string | undefined): string {
  if (killReason !== undefined) return killReason;
  if (end.report)
    return end.report.signal
      ? `was killed by signal ${end.report.signal}`
      : `exited with code ${end.report.exitCode}`;
  return `was lost (${end.error?.message ?? "its container stopped"})`;
}

/** The notice the next call gives when its context's kernel ended while no cell ran. */
export function lostBetweenCalls(reason: string): string {
  return `the context's interpreter ${reason} between calls; it was restarted and its state is lost`;
}

/** What a call knows once its cell has ended. */
export interface CellFacts {
  end: CellEnd;
  timeoutMs: number;
  maxOutputBytes: number;
  /** The cell ran past its timeout (and was interrupted). */
  timedOut: boolean;
  /** Some of its output, value or rich outputs did not fit the output limit. */
  truncated: boolean;
  /** PNG outputs left out because they hold a secret. */
  withheldImages: number;
  /** The notice of a restart since the last call (`lostBetweenCalls`), if there was one. */
  lostBefore?: string;
}

/** The result fields and notices of a cell's call. */
interface CellReport {
  exitCode: number;
  cpuMs: number;
  rssKb: number;
  oomKilled: boolean;
  /** The context's kernel was restarted since the last call, or during this one: its state is lost. */
  restarted: boolean;
  /** Whether the cell's value stands: only a cell the kernel ended itself has one. */
  keepValue: boolean;
  notices: string[];
}

/** How a cell ended, as its call reports it. */
export function cellReport(facts: CellFacts): CellReport {
  const { end } = facts;
  const notices: string[] = [];
  if (facts.lostBefore !== undefined) notices.push(facts.lostBefore);
  let restarted = facts.lostBefore !== undefined;
  let exitCode = 137;
  let cpuMs = 0;
  let rssKb = 0;
  let oomKilled = false;
  if (end.kind === "done") {
    ({ exitCode, cpuMs, rssKb } = end);
    if (facts.timedOut && end.status === "interrupted")
      notices.push(`timed out after ${facts.timeoutMs} ms; the cell was interrupted (SIGINT)`);
  } else if (end.kind === "lost") {
    restarted = true;
    exitCode = end.report ? end.report.exitCode : 137;
    oomKilled = end.report?.oomKilled ?? false;
    notices.push(
      `the context's interpreter ${end.reason}${oomKilled ? " (out of memory)" : ""}; it was restarted and its state is lost`,
    );
  } else {
    notices.push("the context was closed while the cell ran");
  }
  // However the interrupted cell ended (its kernel's own code, or killed after the grace), a timeout reads as one.
  if (facts.timedOut) exitCode = TIMEOUT_EXIT_CODE;
  if (facts.truncated) notices.push(`output truncated at ${facts.maxOutputBytes} bytes`);
  if (facts.withheldImages > 0)
    notices.push(
      `${facts.withheldImages} image output(s) withheld: they contain the value of a secret`,
    );
  return { exitCode, cpuMs, rssKb, oomKilled, restarted, keepValue: end.kind === "done", notices };
}
