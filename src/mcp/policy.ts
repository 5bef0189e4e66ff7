import { readFileSync } from "node:fs";
import { ConfigError, configEngineOptions, type Isol8Config } from "../config/file.js";
import { formatSize } from "../config/sizes.js";
import { resolveOptions } from "../engine/options.js";
import type { DockerIsol8Options, NetworkMode } from "../types.js";

/** Sandbox sessions one MCP client may have open at once. */
export const MAX_SESSIONS_PER_CLIENT = 8;

/**
 * What `isol8 mcp` lets a model do, fixed by the configuration file when the
 * server starts. A model's arguments can narrow it (a shorter timeout), never widen it.
 */
export interface McpPolicy {
  /** Options of every engine the MCP server makes (one-shot runs and sessions alike). */
  engine: DockerIsol8Options;
  network: NetworkMode;
  /** Host patterns a filtered sandbox may reach. */
  allowedHosts: string[];
  ports: number[];
  /** The longest run a model may ask for, and what it gets when it asks for nothing. */
  maxTimeoutMs: number;
  /** `packages` is honoured only when the sandboxes have a network (`filtered` or `host`). */
  installs: boolean;
  memoryBytes: number;
  cpuLimit: number;
  pidsLimit: number;
  maxOutputBytes: number;
  sandboxBytes: number;
  readonlyRootFs: boolean;
  maxSessions: number;
}

/**
 * The MCP server's policy from an isol8 configuration: the same engine
 * options `isol8 run` takes from the file (`defaults.*`, `network.*`,
 * `security.*`, `registries.*`). Invalid values throw here, at start-up,
 * not on a model's first call.
 */
export function mcpPolicy(config: Isol8Config): McpPolicy {
  const base = configEngineOptions(config);
  const network: NetworkMode = config.defaults?.network ?? "none";
  const fromFile = config.network ?? {};
  const caCertificates =
    network === "none" ? [] : (fromFile.caCertificates ?? []).map(readCertificate);
  const engine: DockerIsol8Options = {
    ...base,
    network,
    ...(network === "filtered"
      ? {
          networkFilter: {
            whitelist: fromFile.whitelist ?? [],
            blacklist: fromFile.blacklist ?? [],
            ...(fromFile.ports ? { ports: fromFile.ports } : {}),
          },
        }
      : {}),
    ...(caCertificates.length ? { caCertificates } : {}),
    ...(config.registries ? { registries: { ...config.registries } } : {}),
  };
  const resolved = resolveOptions(engine);
  return {
    engine,
    network,
    allowedHosts: network === "filtered" ? (fromFile.whitelist ?? []) : [],
    ports: fromFile.ports ?? [80, 443],
    maxTimeoutMs: resolved.timeoutMs,
    installs: network !== "none",
    memoryBytes: resolved.memoryBytes,
    cpuLimit: resolved.cpuLimit,
    pidsLimit: resolved.pidsLimit,
    maxOutputBytes: resolved.maxOutputBytes,
    sandboxBytes: resolved.sandboxBytes,
    readonlyRootFs: resolved.readonlyRootFs,
    maxSessions: MAX_SESSIONS_PER_CLIENT,
  };
}

function readCertificate(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(
      `network.caCertificates: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
}

/** One sentence per limit, for tool descriptions: what a model's code runs under. */
export function describeLimits(policy: McpPolicy): string {
  return [
    `Network: ${describeNetwork(policy)}.`,
    `Timeout: ${policy.maxTimeoutMs} ms per call (timeoutMs may lower it, never raise it; a larger value is cut to ${policy.maxTimeoutMs}).`,
    `Memory: ${formatSize(policy.memoryBytes)} (no swap; exceeding it kills the process), ${policy.cpuLimit} CPU, at most ${policy.pidsLimit} processes/threads.`,
    `stdout and stderr are each cut at ${policy.maxOutputBytes} bytes.`,
  ].join(" ");
}

function describeNetwork(policy: McpPolicy): string {
  switch (policy.network) {
    case "none":
      return "none - the sandbox has no network access at all (no DNS, no HTTP, only loopback)";
    case "host":
      return "unrestricted (the host's network)";
    case "filtered": {
      if (policy.allowedHosts.length === 0)
        return "filtered, and no host is allowed: programs cannot reach the network";
      const shown = policy.allowedHosts.slice(0, 20).map((h) => `\`${h}\``);
      const more = policy.allowedHosts.length > 20 ? ", ..." : "";
      return `filtered - HTTP(S) only through the proxy set in HTTP_PROXY/HTTPS_PROXY (most HTTP clients use it), only to hosts matching ${shown.join(", ")}${more} (regular expressions) on ports ${policy.ports.join(", ")}; raw sockets, DNS and any other host are refused`;
    }
  }
}

/** What the `packages` argument does under this policy, for the tool description. */
export function describeInstalls(policy: McpPolicy): string {
  if (!policy.installs)
    return "Installing packages is disabled on this server (its sandboxes have no network): `packages` is refused; use the standard library and what the image already has.";
  const where =
    policy.network === "filtered"
      ? " from the runtime's registry (reachable for the install only)"
      : "";
  return `\`packages\` are installed into /sandbox before the program${where}: pip for python, npm for node, bun add for bun, npm:/jsr: specifiers for deno (not available for bash). Install time counts against the timeout.`;
}
