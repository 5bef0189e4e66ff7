import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { Isol8Error } from "../errors.js";
import { remoteCodeConfigSchema } from "../remote-code/config.js";
import { type DockerIsol8Options, NETWORK_MODES, SECCOMP_MODES } from "../types.js";
import { parseSize } from "./sizes.js";
import { trustOf } from "./trust.js";
import { describeWidening, type Widening, wideningKeys } from "./widening.js";

const size = z.string().refine((v) => parseSize(v) !== undefined, "not a size such as 512m or 1g");
const positiveInt = z.number().int().positive();

/**
 * `isol8.config.json`: what the CLI uses when a flag is not given. Flags
 * override the files, a project's file overrides the user's, and they the
 * built-in defaults. Every key is optional; unknown keys are errors, so a
 * typo never passes silently.
 */
export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  defaults: z
    .strictObject({
      network: z.enum(NETWORK_MODES).optional(),
      memoryLimit: size.optional(),
      cpuLimit: z.number().positive().optional(),
      timeoutMs: positiveInt.optional(),
      pidsLimit: positiveInt.optional(),
      sandboxSize: size.optional(),
      tmpSize: size.optional(),
      readonlyRootFs: z.boolean().optional(),
      maxOutputSize: positiveInt.optional(),
      ociRuntime: z.string().min(1).optional(),
    })
    .optional(),
  network: z
    .strictObject({
      /** Host patterns a filtered sandbox may reach (regular expressions matching the whole name). */
      whitelist: z.array(z.string().min(1)).optional(),
      /** Host patterns a filtered sandbox may never reach; deny wins. */
      blacklist: z.array(z.string().min(1)).optional(),
      /** Ports allowed hosts may be reached on (default 80 and 443). */
      ports: z.array(z.number().int().min(1).max(65535)).optional(),
      /** PEM files of extra CA certificates trusted inside sandboxes with network access. */
      caCertificates: z.array(z.string().min(1)).optional(),
    })
    .optional(),
  security: z
    .strictObject({
      seccomp: z.enum(SECCOMP_MODES).optional(),
      customProfilePath: z.string().min(1).optional(),
      /** The strict profile also accepts 32-bit system call ABIs (security.compatAbis). */
      compatAbis: z.boolean().optional(),
    })
    .optional(),
  /** Packages `isol8 setup` bakes into each runtime's image when no flag names them. */
  dependencies: z
    .strictObject({
      python: z.array(z.string().min(1)).optional(),
      node: z.array(z.string().min(1)).optional(),
      bun: z.array(z.string().min(1)).optional(),
      deno: z.array(z.string().min(1)).optional(),
      bash: z.array(z.string().min(1)).optional(),
    })
    .optional(),
  /** Package indexes image builds install from (`isol8 setup`, `isol8 build`) instead of PyPI and npmjs. */
  registries: z
    .strictObject({
      pip: z.url({ protocol: /^https?$/ }).optional(),
      npm: z.url({ protocol: /^https?$/ }).optional(),
    })
    .optional(),
  /** Code fetched by URL (`isol8 run --url/--github/--gist`): off unless `enabled`. */
  remoteCode: remoteCodeConfigSchema.optional(),
});

/** The contents of an isol8 configuration file. */
export type Isol8Config = z.infer<typeof configSchema>;

/** A configuration file that cannot be read or is invalid; the message names the file and the key. */
export class ConfigError extends Isol8Error {
  override readonly name = "ConfigError";
  override readonly code: string = "CONFIG";
}

/** Where a configuration file came from, which decides whether it is trusted. */
export type ConfigOrigin =
  /** `~/.isol8/config.json`: the user's own, trusted. */
  | "user"
  /** `./isol8.config.json`: found in the working directory, trusted only when the user said so. */
  | "project"
  /** Named with `--config FILE`: an explicit choice of the user, trusted. */
  | "explicit";

/** One configuration file a command read. */
export interface ConfigSource {
  path: string;
  origin: ConfigOrigin;
  /** For a project file: recorded with `isol8 config trust` (with this content). */
  trustedByHash?: boolean;
}

/** The configuration a command uses, and the files it came from (lowest layer first). */
export interface LoadedConfig {
  config: Isol8Config;
  sources: ConfigSource[];
}

/** A project-local file that widens what isol8 allows and is not trusted: exit 2, naming the keys and how to trust. */
export class UntrustedConfigError extends ConfigError {
  override readonly code = "UNTRUSTED_CONFIG";

  constructor(
    readonly path: string,
    readonly widenings: Widening[],
    changed: boolean,
  ) {
    super(
      `${path} is a project-local configuration file ${changed ? "that changed since you trusted it; it" : "that is not trusted, and it"} widens what isol8 allows: ${widenings.map(describeWidening).join(", ")}. Check it, then trust it with \`isol8 config trust ${path}\` (asked again when it changes), or use it once with --config ${path}`,
    );
  }
}

/** The user's own configuration file. */
export function userConfigPath(home = homedir()): string {
  return join(home, ".isol8", "config.json");
}

/** The project-local file a command finds in its working directory. */
export function projectConfigPath(cwd = process.cwd()): string {
  return join(cwd, "isol8.config.json");
}

/** A configuration file read and checked against the schema; undefined when it does not exist. */
export function readConfigFile(path: string): { config: Isol8Config; text: string } | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ConfigError(`${path}: cannot read (${(error as NodeJS.ErrnoException).code})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  const parsed = configSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path.join(".") || "(top level)";
    throw new ConfigError(`${path}: ${key}: ${issue?.message ?? "invalid"}`);
  }
  return { config: parsed.data, text };
}

/** `upper` over `lower`, key by key within each section (a list replaces the list below it). */
export function layerConfigs(lower: Isol8Config, upper: Isol8Config): Isol8Config {
  const merged: Record<string, unknown> = { ...lower };
  for (const [section, value] of Object.entries(upper)) {
    const below = merged[section];
    merged[section] =
      typeof value === "object" && value !== null && typeof below === "object" && below !== null
        ? { ...below, ...value }
        : value;
  }
  return merged as Isol8Config;
}

/** Where `loadConfig` looks; the defaults are this process's. */
export interface ConfigLocations {
  cwd?: string;
  home?: string;
  /** `--config FILE`: used instead of the working directory's file (it must exist). */
  explicit?: string;
}

/**
 * The configuration a command uses: `~/.isol8/config.json` (the user's,
 * trusted), with `--config FILE` or else `./isol8.config.json` layered over
 * it. A project-local file that widens what the user's file (or the built-in
 * default) allows is refused unless `isol8 config trust` recorded its current
 * content; see widening.ts for what widens.
 */
export function loadConfig(locations: ConfigLocations = {}): LoadedConfig {
  const home = locations.home ?? homedir();
  const sources: ConfigSource[] = [];
  let config: Isol8Config = {};
  const user = readConfigFile(userConfigPath(home));
  if (user) {
    config = user.config;
    sources.push({ path: userConfigPath(home), origin: "user" });
  }
  if (locations.explicit !== undefined) {
    const path = resolve(locations.explicit);
    const explicit = readConfigFile(path);
    if (!explicit) throw new ConfigError(`--config: ${locations.explicit} does not exist`);
    sources.push({ path, origin: "explicit" });
    return { config: layerConfigs(config, explicit.config), sources };
  }
  const path = projectConfigPath(locations.cwd);
  const project = readConfigFile(path);
  if (!project) return { config, sources };
  const widenings = wideningKeys(config, project.config);
  const trust = widenings.length ? trustOf(path, project.text, home) : "no";
  if (widenings.length && trust !== "trusted")
    throw new UntrustedConfigError(path, widenings, trust === "changed");
  sources.push({ path, origin: "project", ...(widenings.length ? { trustedByHash: true } : {}) });
  return { config: layerConfigs(config, project.config), sources };
}

/** `~/.isol8/config.json (user), /work/isol8.config.json (project, trusted)`, for the line commands print. */
export function describeSources(sources: ConfigSource[]): string {
  return sources
    .map(({ path, origin, trustedByHash }) => {
      const how =
        origin === "user"
          ? "user"
          : origin === "explicit"
            ? "--config"
            : trustedByHash
              ? "project, trusted"
              : "project, narrows only";
      return `${path} (${how})`;
    })
    .join(", ");
}

/** The engine options a configuration asks for. */
export function configEngineOptions(config: Isol8Config): DockerIsol8Options {
  return { ...config.defaults, ...(config.security ? { security: config.security } : {}) };
}
