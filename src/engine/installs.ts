import { denoSpecifier } from "../runtimes/package-specs.js";
import type { Runtime } from "../runtimes/runtime.js";
import type { PackageRegistries } from "../types.js";

/** Where pip puts a run's packages; the program finds them through PYTHONPATH. */
const PYTHON_PACKAGES_DIR = "/sandbox/.packages";

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

const DEFAULT_REGISTRY_RULES: Record<Exclude<Runtime, "bash">, string[]> = {
  python: ["pypi\\.org", "files\\.pythonhosted\\.org"],
  node: ["registry\\.npmjs\\.org"],
  bun: ["registry\\.npmjs\\.org"],
  deno: ["registry\\.npmjs\\.org", "jsr\\.io", "npm\\.jsr\\.io"],
};

/** The rules that admit the registries an install of `runtime` uses. */
export function registryRules(runtime: Runtime, registries: PackageRegistries = {}): string[] {
  if (runtime === "bash") return [];
  const configured = runtime === "python" ? registries.pip : registries.npm;
  if (!configured) return DEFAULT_REGISTRY_RULES[runtime];
  const url = new URL(configured);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const escaped = host.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return [url.port ? `${escaped}:${url.port}` : escaped];
}

/** How to install `packages` for `runtime` into /sandbox. */
export function installPlan(
  runtime: Runtime,
  packages: string[],
  registries: PackageRegistries = {},
): InstallPlan {
  const registryRulesForRun = registryRules(runtime, registries);
  const npmEnv: Record<string, string> = registries.npm
    ? { NPM_CONFIG_REGISTRY: registries.npm }
    : {};
  switch (runtime) {
    case "python": {
      const env: Record<string, string> = {
        PIP_DISABLE_PIP_VERSION_CHECK: "1",
        PIP_NO_CACHE_DIR: "1",
        PIP_ROOT_USER_ACTION: "ignore",
        PIP_RETRIES: "1",
      };
      if (registries.pip) {
        env.PIP_INDEX_URL = registries.pip;
        if (registries.pip.startsWith("http:"))
          env.PIP_TRUSTED_HOST = new URL(registries.pip).hostname;
      }
      return {
        // -I: the installer ignores PYTHON* variables and does not import from
        // its working directory, where an earlier run may have left a "pip".
        argv: [
          "python3",
          "-I",
          "-m",
          "pip",
          "install",
          "--quiet",
          "--no-warn-script-location",
          "--target",
          PYTHON_PACKAGES_DIR,
          "--",
          ...packages,
        ],
        env,
        programEnv: { PYTHONPATH: PYTHON_PACKAGES_DIR },
        registryRules: registryRulesForRun,
      };
    }
    case "node":
      return {
        argv: [
          "npm",
          "install",
          "--no-audit",
          "--no-fund",
          "--no-update-notifier",
          "--no-package-lock",
          "--loglevel=error",
          "--prefix",
          "/sandbox",
          "--",
          ...packages,
        ],
        // npm's default retries wait up to a minute: an unreachable registry
        // should fail the install, not use up the run's timeout.
        env: {
          ...npmEnv,
          npm_config_cache: "/tmp/.npm",
          npm_config_fetch_retries: "1",
          npm_config_fetch_retry_mintimeout: "1000",
          npm_config_fetch_retry_maxtimeout: "2000",
        },
        programEnv: {},
        registryRules: registryRulesForRun,
      };
    case "bun":
      return {
        argv: ["bun", "add", "--no-save", "--silent", ...packages],
        env: { ...npmEnv, BUN_INSTALL_CACHE_DIR: "/tmp/.bun-cache" },
        programEnv: {},
        registryRules: registryRulesForRun,
      };
    case "deno": {
      const specifiers = packages.map(denoSpecifier);
      return {
        argv: ["deno", "cache", "--quiet", ...specifiers],
        env: npmEnv,
        programEnv: npmEnv,
        registryRules: registryRulesForRun,
      };
    }
    case "bash":
      throw new Error("bash has no package installer at run time (refused by validateRequest)");
  }
}
