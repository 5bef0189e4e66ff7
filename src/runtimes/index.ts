import type { RuntimeAdapter } from "./adapter.js";
import { bash } from "./bash.js";
import { bun } from "./bun.js";
import { deno } from "./deno.js";
import { node } from "./node.js";
import { python } from "./python.js";
import type { Runtime } from "./runtime.js";

export type { RuntimeAdapter } from "./adapter.js";
export { isRuntime, notARuntime, RUNTIMES, type Runtime } from "./runtime.js";

const ADAPTERS: Record<Runtime, RuntimeAdapter> = { python, node, bun, deno, bash };

export function runtimeAdapter(runtime: Runtime): RuntimeAdapter {
  return ADAPTERS[runtime];
}

/** The runtime a file extension selects when no runtime is named (the seed's mapping). */
const RUNTIME_BY_EXTENSION: Record<string, Runtime> = {
  ".py": "python",
  ".js": "node",
  ".mjs": "node",
  ".cjs": "node",
  ".ts": "bun",
  ".mts": "deno",
  ".sh": "bash",
};

export function runtimeForExtension(extension: string): Runtime | undefined {
  return RUNTIME_BY_EXTENSION[extension.toLowerCase()];
}

export const KNOWN_EXTENSIONS = Object.keys(RUNTIME_BY_EXTENSION);
