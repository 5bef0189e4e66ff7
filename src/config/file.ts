import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { remoteCodeConfigSchema } from "../remote-code/config.js";
import type { DockerIsol8Options } from "../types.js";
import { parseSize } from "./sizes.js";

const size = z.string().refine((v) => parseSize(v) !== undefined, "not a size such as 512m or 1g");
const positiveInt = z.number().int().positive();

/**
 * `isol8.config.json`: what the CLI uses when a flag is not given. Flags
 * override the file, the file overrides the built-in defaults. Every key is
 * optional; unknown keys are errors, so a typo never passes silently.
 */
export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  defaults: z
    .strictObject({
      network: z.enum(["none", "host", "filtered"]).optional(),
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
      seccomp: z.enum(["strict", "unconfined", "custom"]).optional(),
      customProfilePath: z.string().min(1).optional(),
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
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Where configuration is looked for, first found wins. */
export function configCandidates(cwd = process.cwd(), home = homedir()): string[] {
  return [join(cwd, "isol8.config.json"), join(home, ".isol8", "config.json")];
}

/** Loads the first configuration file that exists; none is an empty configuration. */
export function loadConfig(candidates = configCandidates()): {
  config: Isol8Config;
  path?: string;
} {
  for (const path of candidates) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
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
    return { config: parsed.data, path };
  }
  return { config: {} };
}

/** The engine options a configuration asks for. */
export function configEngineOptions(config: Isol8Config): DockerIsol8Options {
  return { ...config.defaults, ...(config.security ? { security: config.security } : {}) };
}
