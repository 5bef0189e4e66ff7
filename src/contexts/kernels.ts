import type { RunSpec } from "../engine/protocol.js";
import { isOneOf } from "../one-of.js";
import { runtimeAdapter } from "../runtimes/index.js";
import { CONTEXT_RUNTIMES, type ContextRuntime, type Runtime } from "../runtimes/runtime.js";

/** The kernel run's own timeout: as long as Node's timers allow (about 23 days). */
export const KERNEL_TIMEOUT_MS = 2_000_000_000;

/** Whether `runtime` (as a caller gave it, unchecked) has a kernel. */
export function hasKernel(runtime: unknown): runtime is ContextRuntime {
  return isOneOf(CONTEXT_RUNTIMES, runtime);
}

/**
 * The supervisor run of `runtime`'s kernel, from the run request of a
 * program of that runtime (its environment, working directory, prestart):
 * the kernel's argv, no files, a timeout that outlives the context and no
 * output limit, since the engine holds each cell to its own.
 */
export function kernelRunSpec(runtime: Runtime, program: RunSpec): RunSpec {
  // The runtime's adapter says how its kernel starts (sandbox/bootstrap/context.py, context.cjs).
  const argv = runtimeAdapter(runtime).kernel;
  if (!argv) throw new Error(`no kernel for runtime ${runtime}`);
  return {
    ...program,
    argv: [...argv],
    files: [],
    timeoutMs: KERNEL_TIMEOUT_MS,
    outputLimit: Number.MAX_SAFE_INTEGER,
  };
}
