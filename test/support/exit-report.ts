import type { ExitReport } from "../../src/engine/protocol.js";

/** A supervisor's exit report of a clean, instant exit, with `fields` changed. */
export function exitReport(fields: Partial<ExitReport> = {}): ExitReport {
  return {
    exitCode: 0,
    signal: 0,
    timedOut: false,
    oomKilled: false,
    stdoutTruncated: false,
    stderrTruncated: false,
    cpuMicros: 0,
    containerPeakBytes: -1,
    maxRssBytes: 0,
    wallMicros: 0,
    ...fields,
  };
}
