import type { RunSpec } from "../engine/protocol.js";
import { BOOTSTRAP_DIR } from "../runtimes/adapter.js";
import type { Runtime } from "../runtimes/runtime.js";

/** The runtimes that have a kernel, and its argv. */
const KERNELS: Partial<Record<Runtime, string[]>> = {
  python: ["python3", `${BOOTSTRAP_DIR}/context.py`],
  // Node has no dup(): bash puts the run's stdin, stdout and stderr on fds 3-5
  // for the kernel. --expose-internals: it uses Node's REPL transform for
  // top-level await.
  node: ["bash", "-c", `exec node --expose-internals ${BOOTSTRAP_DIR}/context.cjs 3<&0 4>&1 5>&2`],
};

/** The kernel run's own timeout: as long as Node's timers allow (about 23 days). */
export const KERNEL_TIMEOUT_MS = 2_000_000_000;

/** Whether `runtime` (as a caller gave it, unchecked) has a kernel. */
export function hasKernel(runtime: unknown): runtime is Runtime {
  return typeof runtime === "string" && Object.hasOwn(KERNELS, runtime);
}

/** The runtimes that have a kernel, in the order an error message names them. */
export function kernelRuntimes(): Runtime[] {
  return Object.keys(KERNELS) as Runtime[];
}

/**
 * The supervisor run of `runtime`'s kernel, from the run request of a
 * program of that runtime (its environment, working directory, prestart):
 * the kernel's argv, no files, a timeout that outlives the context and no
 * output limit, since the engine holds each cell to its own.
 */
export function kernelRunSpec(runtime: Runtime, program: RunSpec): RunSpec {
  const argv = KERNELS[runtime];
  if (!argv) throw new Error(`no kernel for runtime ${runtime}`);
  return {
    ...program,
    argv,
    files: [],
    timeoutMs: KERNEL_TIMEOUT_MS,
    outputLimit: Number.MAX_SAFE_INTEGER,
  };
}
