import type { RuntimeRegistry } from "./adapter.js";

/** The npm registry, which node, bun and deno (`npm:` specifiers) install from. */
export const NPM_REGISTRY: RuntimeRegistry = {
  kind: "npm",
  defaultHosts: ["registry\\.npmjs\\.org"],
};

/** The variable npm, bun and deno read a configured registry from. */
export function npmRegistryEnv(registry: string | undefined): Record<string, string> {
  return registry ? { NPM_CONFIG_REGISTRY: registry } : {};
}
