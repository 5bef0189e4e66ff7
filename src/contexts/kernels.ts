import type { RunSpec } from "../engine/protocol.js";
import { runtimeAdapter } from "../runtimes/index.js";
import { isRuntime, RUNTIMES, type Runtime } from "../runtimes/runtime.js";

/** A runtime's kernel argv: its adapter says (sandbox/bootstrap/context.py, context.cjs). */
function kernelArgv(runtime: Runtime): readonly string[] | undefined {
  return runtimeAdapter(runtime).kernel;
}

/** The kernel run's own timeout: as long as Node's timers allow (about 23 days). */
export const KERNEL_TIMEOUT_MS = 2_000_000_000;

/** Whether `runtime` (as a caller gave it, unchecked) has a kernel. */
export function hasKernel(runtime: unknown): runtime is Runtime {
  return typeof runtime === "string" && isRuntime(runtime) && kernelArgv(runtime) !== undefined;
}

/** The runtimes that have a kernel, in the order an error message names them. */
export function kernelRuntimes(): Runtime[] {
  return RUNTIMES.filter((runtime) => kernelArgv(runtime) !== undefined);
}

/**
 * The supervisor run of `runtime`'s kernel, from the run request of a
 * program of that runtime (its environment, working directory, prestart):
 * the kernel's argv, no files, a timeout that outlives the context and no
 * output limit, since the engine holds each cell to its own.
 */
export function kernelRunSpec(runtime: Runtime, program: RunSpec): RunSpec {
  const argv = kernelArgv(runtime);
  if (!argv) throw new Error(`no kernel for runtime ${runtime}`);
  return {
    ...program,
    argv: [...argv],
    files: [],
    timeoutMs: KERNEL_TIMEOUT_MS,
    outputLimit: Number.MAX_SAFE_INTEGER,
  };
}
