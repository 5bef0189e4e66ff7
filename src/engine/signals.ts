import { InvalidRequestError } from "./request.js";

/** Signals a caller may send to a running program (Linux numbers: containers run Linux). */
export const SIGNALS = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGTERM: 15,
} as const;

/** A signal `StreamRun.kill` can send to a running program. */
export type SandboxSignal = keyof typeof SIGNALS;

/** The number of a signal a caller named; an unknown name is an InvalidRequestError. */
export function signalNumber(signal: SandboxSignal): number {
  const number = SIGNALS[signal];
  if (number === undefined)
    throw new InvalidRequestError(
      `signal: "${signal}" is not one of ${Object.keys(SIGNALS).join(", ")}`,
    );
  return number;
}
