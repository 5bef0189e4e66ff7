import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { parseSize } from "../config/sizes.js";
import { DEFAULTS } from "../engine/options.js";
import { remoteCodeConfigSchema } from "../remote-code/config.js";
import { POOL_STRATEGIES } from "../types.js";
import { validationError } from "./errors.js";
import { LOG_FORMATS } from "./log-format.js";
import { checkSeccompProfiles } from "./seccomp-profiles.js";

/**
 * Executions a server runs at once unless configured otherwise, and so the
 * warm pool it keeps per image: under load every running execution needs a
 * container, and a smaller pool makes most runs wait for a cold one
 * (measured in bench/server-load.ts). The library's engine keeps a pool of
 * one instead (`DEFAULTS.poolSize`): it is usually made for one caller's
 * runs in turn, where ten ready containers would be nine started for nothing.
 */
const SERVER_CONCURRENCY = 10;

const size = z.string().refine((v) => parseSize(v) !== undefined, "not a size such as 512m or 2g");
const ms = z.number().int().positive();

/** Option values a server applies when a client does not ask for its own; unset, the engine's. */
const defaultsSchema = z.strictObject({
  memoryLimit: size.default(DEFAULTS.memoryLimit),
  cpuLimit: z.number().positive().default(DEFAULTS.cpuLimit),
  timeoutMs: ms.default(DEFAULTS.timeoutMs),
  pidsLimit: z.number().int().positive().default(DEFAULTS.pidsLimit),
  sandboxSize: size.default(DEFAULTS.sandboxSize),
  tmpSize: size.default(DEFAULTS.tmpSize),
  maxOutputSize: z.number().int().positive().default(DEFAULTS.maxOutputSize),
});

/** The largest values a client may ask for; a request above one is refused with 403. */
const limitsSchema = z.strictObject({
  memoryLimit: size.default("2g"),
  cpuLimit: z.number().positive().default(2),
  timeoutMs: ms.default(120_000),
  pidsLimit: z.number().int().positive().default(256),
  sandboxSize: size.default("2g"),
  tmpSize: size.default("1g"),
  maxOutputSize: z
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
});

/** Weakenings of the sandbox a client may ask for. All off: a client gets the full defaults. */
const allowSchema = z.strictObject({
  hostNetwork: z.boolean().default(false),
  /** Filter rules naming a loopback, private, link-local or metadata address (reaching the server's own networks). */
  internalAddresses: z.boolean().default(false),
  unconfinedSeccomp: z.boolean().default(false),
  writableRootFs: z.boolean().default(false),
  customImage: z.boolean().default(false),
});

export const serverConfigSchema = z.strictObject({
  /**
   * Address `isol8 serve` listens on when `--bind` is not given: loopback, so
   * that reaching the server from elsewhere is a choice (`0.0.0.0`).
   */
  bind: z.string().min(1).default("127.0.0.1"),
  /** SQLite file holding API keys (hashed) and login tokens. */
  dbPath: z.string().default(join(homedir(), ".isol8", "server.db")),
  /** JSON-lines audit log of executions; none when unset. */
  auditLog: z.string().optional(),
  /**
   * How large the audit log may grow: a file of at most `maxBytes`, and
   * `keep` rotated files beside it (`auditLog.1` newest).
   */
  auditLogRotation: z
    .strictObject({
      maxBytes: z
        .number()
        .int()
        .min(64 * 1024)
        .default(16 * 1024 * 1024),
      keep: z.number().int().min(1).max(100).default(4),
    })
    .prefault({}),
  /** Largest request body, in bytes; bigger ones get 413. */
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
  /** Executions running at once, across all engines and sessions. */
  maxConcurrent: z.number().int().positive().default(SERVER_CONCURRENCY),
  /** Executions waiting for a slot; one more gets 429. */
  maxQueue: z.number().int().min(0).default(50),
  /**
   * The log on stderr: `text` (one line an operator reads per entry) or
   * `json` (one pino JSON object per line: level, time, msg and the
   * entry's fields). Either way one entry per request, at info.
   */
  logFormat: z.enum(LOG_FORMATS).default("text"),
  /** Idle time between SSE heartbeat comments. */
  heartbeatMs: ms.default(15_000),
  /** How long shutdown lets running executions finish. */
  shutdownGraceMs: ms.default(10_000),
  sessions: z
    .strictObject({
      /** A session unused this long is stopped and its container removed. */
      idleTimeoutMs: ms.default(30 * 60_000),
      maxPerTenant: z.number().int().positive().default(16),
      sweepIntervalMs: ms.default(60_000),
    })
    .prefault({}),
  sandboxes: z
    .strictObject({
      /** Long-lived sandboxes (POST /sandboxes) a tenant may have running at once; one more gets 429. */
      maxPerTenant: z.number().int().positive().default(8),
      /** The longest lifetime a client may give a sandbox (at creation or with /timeout); longer gets 403. */
      maxTimeoutMs: ms.default(60 * 60_000),
      /** The largest process limit a client may give a sandbox; larger gets 403. */
      maxPidsLimit: z.number().int().positive().default(1024),
      /**
       * The largest file a client may upload into a sandbox (PUT
       * /sandboxes/:id/files), in bytes; larger gets 413, by its
       * Content-Length or once that many bytes have come. Not bound by
       * `maxBodyBytes`: an upload is streamed into the sandbox as it comes,
       * never held in the server's memory, so what it costs is the
       * sandbox's disk and the transfer's time, not the server's memory
       * that `maxBodyBytes` protects.
       */
      maxFileBytes: z
        .number()
        .int()
        .positive()
        .default(1024 ** 3),
    })
    .prefault({}),
  engines: z
    .strictObject({
      /** Warm engines (one per distinct options set) kept while idle. */
      maxIdle: z.number().int().min(0).default(4),
      /**
       * An engine unused this long is stopped and its ready containers
       * removed (checked every `min(sessions.sweepIntervalMs, idleTimeoutMs)`).
       */
      idleTimeoutMs: ms.default(5 * 60_000),
      poolStrategy: z.enum(POOL_STRATEGIES).default(DEFAULTS.poolStrategy),
      /**
       * Whether a pooled container that ran one tenant's code may, after its
       * wipe, run another tenant's. Off: it serves the tenant that first ran
       * code in it, and no one else.
       */
      shareAcrossTenants: z.boolean().default(false),
      /**
       * Ready containers each engine keeps per image (`clean`) and used ones
       * wiped for reuse at once (`dirty`); both maxConcurrent's default (see
       * SERVER_CONCURRENCY). Kept while the engine lives: it and they go once
       * it is idle for `idleTimeoutMs`.
       */
      poolSize: z
        .strictObject({
          clean: z.number().int().min(0).default(SERVER_CONCURRENCY),
          dirty: z.number().int().min(0).default(SERVER_CONCURRENCY),
        })
        .prefault({}),
    })
    .prefault({}),
  auth: z
    .strictObject({
      /** Lifetime of a token from /auth/login when the caller names none. */
      loginTtlMs: ms.default(12 * 60 * 60_000),
      /** Longest lifetime a key or token may be given. */
      maxTtlMs: ms.default(365 * 24 * 60 * 60_000),
    })
    .prefault({}),
  /**
   * `request.codeUrl`: code the server fetches by URL, under the same rules as
   * the CLI's `remoteCode` (off unless `enabled`).
   */
  remoteCode: remoteCodeConfigSchema.optional(),
  policy: z
    .strictObject({
      defaults: defaultsSchema.prefault({}),
      limits: limitsSchema.prefault({}),
      allow: allowSchema.prefault({}),
      /**
       * Seccomp profiles a client may pick by name (`options.security:
       * { seccomp: "custom", customProfile: name }`): name -> profile file.
       * None by default, so no client can run under a custom profile.
       */
      seccompProfiles: z
        .record(
          z
            .string()
            .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "a profile name: letters, digits, . _ -"),
          z.string().min(1),
        )
        .default({}),
    })
    .prefault({}),
});

/** Everything a server is configured with; every field has a default. */
export type ServerConfig = z.infer<typeof serverConfigSchema>;
/** A partial ServerConfig, as written in a config file or passed to createServer. */
export type ServerConfigInput = z.input<typeof serverConfigSchema>;
export type ServerPolicy = ServerConfig["policy"];

/** Fills in defaults and checks the config; the error names the bad field. */
export function resolveServerConfig(input: ServerConfigInput = {}): ServerConfig {
  if ((input.policy?.allow as Record<string, unknown> | undefined)?.customSeccomp !== undefined)
    throw new Error(
      "server config: policy.allow.customSeccomp: replaced by policy.seccompProfiles (name -> profile file); clients pick a registered profile by name",
    );
  const parsed = serverConfigSchema.safeParse(input);
  if (!parsed.success) throw new Error(`server config: ${validationError(parsed.error).message}`);
  const config = parsed.data;
  assertDefaultsWithinLimits(config.policy);
  checkSeccompProfiles(config.policy.seccompProfiles);
  return config;
}

/** Reads a JSON config file (a partial ServerConfig). */
export function loadServerConfigFile(path: string): ServerConfigInput {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as ServerConfigInput;
  } catch (error) {
    throw new Error(`server config ${path}: ${(error as Error).message}`);
  }
}

/** A default above its own limit would make the server refuse requests that ask for nothing. */
function assertDefaultsWithinLimits({ defaults, limits }: ServerPolicy): void {
  for (const key of Object.keys(defaults) as (keyof typeof defaults)[]) {
    const value = defaults[key];
    const limit = limits[key];
    const [v, l] =
      typeof value === "string"
        ? [parseSize(value), parseSize(String(limit))]
        : [value, Number(limit)];
    if ((v ?? 0) > (l ?? 0)) {
      throw new Error(
        `server config: policy.defaults.${key} (${value}) is above policy.limits.${key} (${limit})`,
      );
    }
  }
}
