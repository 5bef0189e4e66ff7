import { InvalidOptionError } from "../../../engine/options.js";
import { isOneOf } from "../../../one-of.js";
import { type DockerIsol8Options, NETWORK_MODES, type NetworkMode } from "../../../types.js";
import { CliError, EXIT } from "../../exit-codes.js";
import type { RemoteCodeFlags } from "../../remote-code.js";

/**
 * `isol8 run`'s flags as commander hands them over. No flag has a default of
 * its own: one the user did not type is undefined, so the configuration file
 * and then the engine decide (see options.ts). The one exception is
 * commander's own: `stream` is true unless `--no-stream` was given.
 */
export interface RunFlags extends RemoteCodeFlags {
  eval?: string;
  cmd?: string;
  runtime?: string;
  stream?: boolean;
  json?: boolean;
  persist?: boolean;
  persistent?: boolean;
  debug?: boolean;
  timeout?: string;
  memory?: string;
  cpu?: string;
  pidsLimit?: string;
  sandboxSize?: string;
  tmpSize?: string;
  writable?: boolean;
  maxOutput?: string;
  secret?: string[];
  setup?: string[];
  stdin?: string;
  workdir?: string;
  files?: string;
  out?: string;
  image?: string;
  net?: string;
  allow?: string[];
  deny?: string[];
  netLog?: boolean;
  logNetwork?: boolean;
  install?: string[];
  caCert?: string[];
  pipIndexUrl?: string;
  npmRegistry?: string;
  seccomp?: string;
  seccompProfile?: string;
  ociRuntime?: string;
  host?: string;
  key?: string;
  sessionId?: string;
}

/** Commander's reducer for a repeatable flag: the values in the order they were given. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function positive(flag: string, value: string | undefined, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new CliError(
      `${flag}: "${value}" is not a positive ${integer ? "whole number" : "number"}`,
    );
  }
  return n;
}

function networkMode(value: string | undefined): NetworkMode | undefined {
  if (value === undefined || isOneOf(NETWORK_MODES, value)) return value;
  throw new CliError(`--net: "${value}" is not one of ${NETWORK_MODES.join(", ")}`);
}

function parseSecrets(pairs: string[]): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CliError(`--secret: "${pair}" is not KEY=VALUE`);
    secrets[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return secrets;
}

/** An object without the keys whose value is undefined. */
function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * The engine options the typed flags ask for, checked and parsed: only the
 * options of flags the user gave are set. The network filter and CA files
 * are left to the caller, which knows the network the run ends up with.
 */
export function typedOptions(flags: RunFlags): DockerIsol8Options {
  const registries = definedOnly({ pip: flags.pipIndexUrl, npm: flags.npmRegistry });
  const security = definedOnly({
    seccomp: flags.seccomp as NonNullable<DockerIsol8Options["security"]>["seccomp"],
    customProfilePath: flags.seccompProfile,
  });
  return definedOnly<DockerIsol8Options>({
    network: networkMode(flags.net),
    logNetwork: flags.netLog || undefined,
    registries: Object.keys(registries).length ? registries : undefined,
    timeoutMs: positive("--timeout", flags.timeout, true),
    memoryLimit: flags.memory,
    cpuLimit: positive("--cpu", flags.cpu, false),
    pidsLimit: positive("--pids-limit", flags.pidsLimit, true),
    sandboxSize: flags.sandboxSize,
    tmpSize: flags.tmpSize,
    readonlyRootFs: flags.writable ? false : undefined,
    maxOutputSize: positive("--max-output", flags.maxOutput, true),
    secrets: flags.secret ? parseSecrets(flags.secret) : undefined,
    image: flags.image,
    persist: flags.persist,
    mode: flags.persistent ? "persistent" : undefined,
    debug: flags.debug,
    security: Object.keys(security).length ? security : undefined,
    ociRuntime: flags.ociRuntime,
  });
}

/** The flag behind each engine option, for errors the engine words in its own option names. */
const FLAG_FOR_OPTION: Record<string, string> = {
  memoryLimit: "--memory",
  cpuLimit: "--cpu",
  timeoutMs: "--timeout",
  pidsLimit: "--pids-limit",
  sandboxSize: "--sandbox-size",
  tmpSize: "--tmp-size",
  maxOutputSize: "--max-output",
  secrets: "--secret",
  network: "--net",
  "security.seccomp": "--seccomp",
  "security.customProfilePath": "--seccomp-profile",
  ociRuntime: "--oci-runtime",
  "networkFilter.whitelist": "--allow",
  "networkFilter.blacklist": "--deny",
  "registries.pip": "--pip-index-url",
  "registries.npm": "--npm-registry",
  caCertificates: "--ca-cert",
  workdir: "--workdir",
  files: "--files",
  filesBase64: "--files",
};

/** Names the flag the user typed, not the library option behind it. */
export function inFlagTerms(error: unknown): unknown {
  if (!(error instanceof InvalidOptionError)) return error;
  const field = error.message.split(":")[0] ?? "";
  const flag = FLAG_FOR_OPTION[field.replace(/\[\d+\]$/, "")];
  return flag
    ? new CliError(`${flag}${error.message.slice(field.length)}`, EXIT.usage, { cause: error })
    : error;
}
