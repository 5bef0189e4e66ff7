import { isOneOf } from "../one-of.js";

/** The languages isol8 can run. */
export const RUNTIMES = ["python", "node", "bun", "deno", "bash"] as const;

/** One of the languages isol8 can run. */
export type Runtime = (typeof RUNTIMES)[number];

export function isRuntime(value: string): value is Runtime {
  return isOneOf(RUNTIMES, value);
}

/** The runtimes a code context can run (those with a kernel in sandbox/bootstrap/). */
export const CONTEXT_RUNTIMES = ["python", "node"] as const satisfies readonly Runtime[];

/** One of CONTEXT_RUNTIMES. */
export type ContextRuntime = (typeof CONTEXT_RUNTIMES)[number];

/** Why `name` is not a runtime, for the option or field called `field`. */
export function notARuntime(field: string, name: string): string {
  return `${field}: "${name}" is not one of ${RUNTIMES.join(", ")}`;
}
