/** The engine's internal step log; a no-op unless `debug` is on. */
export interface DebugLog {
  (message: string): void;
  /** Runs `step`, logging how long it took. */
  time<T>(label: string, step: () => Promise<T>): Promise<T>;
}

export function createDebugLog(
  enabled: boolean,
  write = (line: string) => process.stderr.write(line),
): DebugLog {
  const origin = performance.now();
  const log = ((message: string) => {
    if (enabled) write(`[isol8 +${(performance.now() - origin).toFixed(1)}ms] ${message}\n`);
  }) as DebugLog;
  log.time = async (label, step) => {
    if (!enabled) return step();
    const started = performance.now();
    try {
      return await step();
    } finally {
      log(`${label}: ${(performance.now() - started).toFixed(1)}ms`);
    }
  };
  return log;
}
