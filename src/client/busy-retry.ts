import { InvalidOptionError } from "../engine/errors.js";
import { RemoteError } from "./remote-error.js";

/**
 * How a client waits out a busy server (429): it tries again after the
 * answer's `Retry-After`, within both bounds; past either it gives up with
 * the server's refusal and what it tried.
 */
export interface BusyRetryOptions {
  /** Attempts in all, the first included; 1 never retries. Default 3. */
  maxAttempts?: number;
  /** Longest the client waits in all, over every retry, in ms; a longer Retry-After gives up at once. Default 30 000. */
  maxWaitMs?: number;
}

const BUSY_RETRY_DEFAULTS = { maxAttempts: 3, maxWaitMs: 30_000 } as const;

/** How long to wait when a 429 carries no readable Retry-After. */
const UNSAID_WAIT_MS = 1000;

/** `options` with its defaults, checked (InvalidOptionError naming the field). */
export function busyRetryOptions(options: BusyRetryOptions = {}): Required<BusyRetryOptions> {
  const resolved = { ...BUSY_RETRY_DEFAULTS, ...options };
  if (!Number.isSafeInteger(resolved.maxAttempts) || resolved.maxAttempts < 1)
    throw new InvalidOptionError(
      `retry.maxAttempts: ${String(options.maxAttempts)} is not a whole number of at least 1`,
    );
  if (!Number.isSafeInteger(resolved.maxWaitMs) || resolved.maxWaitMs < 0)
    throw new InvalidOptionError(
      `retry.maxWaitMs: ${String(options.maxWaitMs)} is not a whole number of milliseconds`,
    );
  return resolved;
}

/**
 * Runs `attempt` until it does not fail with a 429, waiting each answer's
 * Retry-After between tries. Aborting `signal` ends a wait at once with the
 * signal's reason.
 */
export async function retryWhileBusy<T>(
  attempt: () => Promise<T>,
  options: Required<BusyRetryOptions>,
  signal?: AbortSignal,
): Promise<T> {
  let waited = 0;
  for (let attempts = 1; ; attempts++) {
    try {
      return await attempt();
    } catch (error) {
      const wait = busyWait(error);
      if (wait === undefined) throw error;
      const busy = error as RemoteError;
      if (attempts >= options.maxAttempts)
        throw gaveUp(busy, `after ${attempts} attempt${attempts === 1 ? "" : "s"}`);
      if (waited + wait > options.maxWaitMs)
        throw gaveUp(
          busy,
          `after ${attempts} attempt${attempts === 1 ? "" : "s"}: the server asked for ${seconds(wait)} more, past this client's ${seconds(options.maxWaitMs)} of waiting in all (retry.maxWaitMs)`,
        );
      await pause(wait, signal);
      waited += wait;
    }
  }
}

/** How long to wait before trying again after `error`, or undefined when it is no 429. */
function busyWait(error: unknown): number | undefined {
  if (!(error instanceof RemoteError) || error.status !== 429) return undefined;
  return error.retryAfterMs ?? UNSAID_WAIT_MS;
}

function gaveUp(busy: RemoteError, how: string): RemoteError {
  return new RemoteError(429, `${busy.message} (gave up ${how})`, busy.retryAfterMs);
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
