import { runtimeAdapter } from "../runtimes/index.js";
import type { Runtime } from "../runtimes/runtime.js";
import type { PackageRegistries } from "../types.js";

/** The installer run before a program, and what the program needs to find its packages. */
export interface InstallPlan {
  argv: string[];
  /** Environment of the installer (registry, caches). */
  env: Record<string, string>;
  /** Environment the program gets afterwards. */
  programEnv: Record<string, string>;
  /** Allow rules for the registry hosts, added for the install only (or for the run, by the CLI and server). */
  registryRules: string[];
}

/** The rules that admit the registries an install of `runtime` uses. */
export function registryRules(runtime: Runtime, registries: PackageRegistries = {}): string[] {
  const registry = runtimeAdapter(runtime).registry;
  if (!registry) return [];
  const configured = registries[registry.kind];
  if (!configured) return [...registry.defaultHosts];
  const url = new URL(configured);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const escaped = host.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return [url.port ? `${escaped}:${url.port}` : escaped];
}

/** How to install `packages` for `runtime` into /sandbox, with the runtime adapter's installer. */
export function installPlan(
  runtime: Runtime,
  packages: string[],
  registries: PackageRegistries = {},
): InstallPlan {
  const adapter = runtimeAdapter(runtime);
  const installer = adapter.installer;
  if (!installer)
    throw new Error(`${runtime} has no package installer at run time (refused by validateRequest)`);
  const registry = adapter.registry ? registries[adapter.registry.kind] : undefined;
  return {
    argv: installer.argv(packages),
    env: installer.env(registry),
    programEnv: installer.programEnv(registry),
    registryRules: registryRules(runtime, registries),
  };
}
