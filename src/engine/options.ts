import { parseSize } from "../config/sizes.js";
import { compilePolicy, type EgressPolicy } from "../network/policy.js";
import { isOneOf } from "../one-of.js";
import { registryUrlProblem } from "../runtimes/package-specs.js";
import {
  type DockerIsol8Options,
  ENGINE_MODES,
  type EngineMode,
  NETWORK_MODES,
  type NetworkMode,
  type PackageRegistries,
  POOL_STRATEGIES,
  type PoolStrategy,
  SECCOMP_MODES,
  type SeccompMode,
} from "../types.js";
import { InvalidOptionError } from "./errors.js";
import type { PoolSize } from "./pool.js";
import { seccompSecurityOpt } from "./seccomp.js";

export { InvalidOptionError };

/** DockerIsol8Options with every default filled in and sizes in bytes. */
export interface ResolvedOptions {
  mode: EngineMode;
  network: NetworkMode;
  /** The compiled networkFilter; set exactly when `network` is `filtered`. */
  egressPolicy: EgressPolicy | undefined;
  logNetwork: boolean;
  caCertificates: string[];
  registries: PackageRegistries;
  memoryBytes: number;
  cpuLimit: number;
  timeoutMs: number;
  pidsLimit: number;
  sandboxBytes: number;
  tmpBytes: number;
  readonlyRootFs: boolean;
  maxOutputBytes: number;
  secrets: Record<string, string>;
  image: string | undefined;
  persist: boolean;
  debug: boolean;
  /** The Docker SecurityOpt entry for the seccomp profile, ready to use. */
  seccompOpt: string;
  ociRuntime: string | undefined;
  poolStrategy: PoolStrategy;
  poolSize: PoolSize;
  maxConcurrent: number;
}

/**
 * The engine's defaults, in one place: what an option left undefined becomes.
 * The CLI's help states these values and never keeps its own copy.
 */
export const DEFAULTS = {
  mode: "ephemeral",
  network: "none",
  memoryLimit: "512m",
  cpuLimit: 1,
  timeoutMs: 30_000,
  pidsLimit: 64,
  sandboxSize: "512m",
  tmpSize: "256m",
  readonlyRootFs: true,
  maxOutputSize: 1024 * 1024,
  seccomp: "strict",
  poolStrategy: "fast",
  // One of each: an engine is usually one caller's runs in turn; a server keeps
  // one per execution it runs at once (SERVER_CONCURRENCY, src/server/config.ts).
  poolSize: { clean: 1, dirty: 1 },
  maxConcurrent: 10,
} as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function size(name: string, value: string | undefined, fallback: string): number {
  const text = value ?? fallback;
  const bytes = parseSize(text);
  if (bytes === undefined) {
    throw new InvalidOptionError(
      `${name}: "${text}" is not a size (use a number with an optional unit b, k, m or g, e.g. 512m)`,
    );
  }
  return bytes;
}

function positive(
  name: string,
  value: number | undefined,
  fallback: number,
  integer: boolean,
): number {
  const n = value ?? fallback;
  if (typeof n !== "number" || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new InvalidOptionError(
      `${name}: ${String(n)} is not a positive ${integer ? "whole number" : "number"}`,
    );
  }
  return n;
}

/**
 * Largest single argument or `NAME=value` the kernel passes to a program
 * (MAX_ARG_STRLEN, 128 KiB with its terminating NUL): a `cmd` or
 * `setupScript` (each is one argument of bash) or a variable past it could
 * never start.
 */
export const MAX_ARG_BYTES = 128 * 1024 - 1;
/**
 * Largest environment a request's `env`, and an engine's `secrets`, may
 * each add (`NAME=value` bytes added up): together they stay within the
 * 2 MiB the kernel allows a program's arguments and environment, and far
 * below the supervisor's frame limit.
 */
const MAX_ENV_BYTES = 512 * 1024;

/** Why `env` (the `field` of a request or options) is too large to start a program with; undefined if it is not. */
export function envSizeProblem(field: string, env: Record<string, string>): string | undefined {
  let total = 0;
  for (const [name, value] of Object.entries(env)) {
    const bytes = Buffer.byteLength(name) + 1 + Buffer.byteLength(value);
    if (bytes > MAX_ARG_BYTES)
      return `${field}.${name}: ${bytes} bytes (NAME=value) is larger than the limit of ${MAX_ARG_BYTES} bytes for one variable`;
    total += bytes;
  }
  if (total > MAX_ENV_BYTES)
    return `${field}: ${total} bytes in all is larger than the limit of ${MAX_ENV_BYTES} bytes`;
  return undefined;
}

/** Checks an environment variable name (used for env and secrets alike). */
export function assertEnvName(field: string, name: string): void {
  if (!ENV_NAME.test(name)) {
    throw new InvalidOptionError(
      `${field}: "${name}" is not a valid environment variable name (letters, digits and _, not starting with a digit)`,
    );
  }
}

export function resolveOptions(options: DockerIsol8Options = {}): ResolvedOptions {
  const network = options.network ?? DEFAULTS.network;
  if (!isOneOf(NETWORK_MODES, network)) {
    throw new InvalidOptionError(`network: "${network}" is not one of ${NETWORK_MODES.join(", ")}`);
  }
  const mode = options.mode ?? DEFAULTS.mode;
  if (!isOneOf(ENGINE_MODES, mode)) {
    throw new InvalidOptionError(
      `mode: "${String(mode)}" is not one of ${ENGINE_MODES.join(", ")}`,
    );
  }
  const secrets = options.secrets ?? {};
  for (const [name, value] of Object.entries(secrets)) {
    assertEnvName("secrets", name);
    if (typeof value !== "string")
      throw new InvalidOptionError(`secrets.${name}: must be a string`);
  }
  const secretsProblem = envSizeProblem("secrets", secrets);
  if (secretsProblem) throw new InvalidOptionError(secretsProblem);
  const memoryBytes = size("memoryLimit", options.memoryLimit, DEFAULTS.memoryLimit);
  if (memoryBytes < 6 * 1024 * 1024) {
    throw new InvalidOptionError("memoryLimit: Docker needs at least 6m");
  }
  return {
    mode,
    network,
    ...networkOptions(options, network),
    memoryBytes,
    cpuLimit: positive("cpuLimit", options.cpuLimit, DEFAULTS.cpuLimit, false),
    timeoutMs: positive("timeoutMs", options.timeoutMs, DEFAULTS.timeoutMs, true),
    pidsLimit: positive("pidsLimit", options.pidsLimit, DEFAULTS.pidsLimit, true),
    sandboxBytes: size("sandboxSize", options.sandboxSize, DEFAULTS.sandboxSize),
    tmpBytes: size("tmpSize", options.tmpSize, DEFAULTS.tmpSize),
    readonlyRootFs: options.readonlyRootFs ?? DEFAULTS.readonlyRootFs,
    maxOutputBytes: positive("maxOutputSize", options.maxOutputSize, DEFAULTS.maxOutputSize, true),
    secrets,
    image: options.image,
    persist: options.persist ?? false,
    debug: options.debug ?? false,
    seccompOpt: seccompSecurityOpt({
      mode: seccompMode(options),
      customProfilePath: options.security?.customProfilePath,
      ociRuntime: options.ociRuntime,
      compatAbis: options.security?.compatAbis,
    }),
    ociRuntime: options.ociRuntime,
    poolStrategy: poolStrategy(options.poolStrategy),
    poolSize: {
      clean: count("poolSize.clean", options.poolSize?.clean, DEFAULTS.poolSize.clean),
      dirty: count("poolSize.dirty", options.poolSize?.dirty, DEFAULTS.poolSize.dirty),
    },
    maxConcurrent: positive("maxConcurrent", options.maxConcurrent, DEFAULTS.maxConcurrent, true),
  };
}

function networkOptions(
  options: DockerIsol8Options,
  network: NetworkMode,
): Pick<ResolvedOptions, "egressPolicy" | "logNetwork" | "caCertificates" | "registries"> {
  if (network !== "filtered" && options.networkFilter !== undefined)
    throw new InvalidOptionError(
      `networkFilter: allow and deny rules need network "filtered" (network is "${network}")`,
    );
  if (network !== "filtered" && options.logNetwork)
    throw new InvalidOptionError(
      `logNetwork: only network "filtered" passes through the gateway that keeps the log (network is "${network}")`,
    );
  const caCertificates = options.caCertificates ?? [];
  for (const [i, pem] of caCertificates.entries()) {
    if (typeof pem !== "string" || !pem.includes("-----BEGIN CERTIFICATE-----"))
      throw new InvalidOptionError(
        `caCertificates[${i}]: not a PEM certificate (no BEGIN CERTIFICATE line)`,
      );
  }
  const registries = options.registries ?? {};
  for (const key of ["pip", "npm"] as const) {
    const url = registries[key];
    const problem = url === undefined ? undefined : registryUrlProblem(url);
    if (problem)
      throw new InvalidOptionError(`registries.${key}: ${JSON.stringify(url)} ${problem}`);
  }
  return {
    egressPolicy: network === "filtered" ? compilePolicy(options.networkFilter) : undefined,
    logNetwork: options.logNetwork ?? false,
    caCertificates,
    registries,
  };
}

function seccompMode(options: DockerIsol8Options): SeccompMode {
  const mode = options.security?.seccomp ?? DEFAULTS.seccomp;
  if (!isOneOf(SECCOMP_MODES, mode)) {
    throw new InvalidOptionError(
      `security.seccomp: "${String(mode)}" is not one of ${SECCOMP_MODES.join(", ")}`,
    );
  }
  const compatAbis = options.security?.compatAbis;
  if (compatAbis !== undefined && typeof compatAbis !== "boolean")
    throw new InvalidOptionError(`security.compatAbis: must be true or false`);
  // A custom profile names its own architectures; unconfined has none to widen.
  if (compatAbis && mode !== "strict")
    throw new InvalidOptionError(
      `security.compatAbis: only the strict profile has it (security.seccomp is "${mode}")`,
    );
  return mode;
}

function poolStrategy(value: string | undefined): PoolStrategy {
  const strategy = value ?? DEFAULTS.poolStrategy;
  if (!isOneOf(POOL_STRATEGIES, strategy)) {
    throw new InvalidOptionError(
      `poolStrategy: "${strategy}" is not one of ${POOL_STRATEGIES.join(", ")}`,
    );
  }
  return strategy;
}

function count(name: string, value: number | undefined, fallback: number): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidOptionError(`${name}: ${String(n)} is not a whole number >= 0`);
  return n;
}
