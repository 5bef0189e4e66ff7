/** The languages isol8 can run. */
export const RUNTIMES = ["python", "node", "bun", "deno", "bash"] as const;

/** One of the languages isol8 can run. */
export type Runtime = (typeof RUNTIMES)[number];

export function isRuntime(value: string): value is Runtime {
  return (RUNTIMES as readonly string[]).includes(value);
}
