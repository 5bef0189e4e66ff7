import { z } from "zod";
import { MAX_CODE_BYTES } from "../engine/request.js";
import { compilePolicy } from "../network/policy.js";

/** Built-in values of the `remoteCode` keys a configuration leaves out. */
export const REMOTE_CODE_DEFAULTS = {
  enabled: false,
  allowedSchemes: ["https"] as ("http" | "https")[],
  maxCodeSize: 1024 * 1024,
  fetchTimeoutMs: 10_000,
  requireHash: false,
} as const;

/** A host rule as the egress filter reads it; a bad one is refused when the file is loaded. */
const hostPattern = z
  .string()
  .min(1)
  .superRefine((pattern, ctx) => {
    try {
      compilePolicy({ whitelist: [pattern] }, "rule");
    } catch (error) {
      ctx.addIssue({
        code: "custom",
        message: (error as Error).message.replace(/^rule\.whitelist\[0\]: /, ""),
      });
    }
  });

/**
 * `remoteCode`: whether and from where code may be fetched by URL (`isol8 run
 * --url/--github/--gist`, the server's `request.codeUrl`). The same shape in
 * `isol8.config.json` and the server's configuration; every key is optional.
 */
export const remoteCodeConfigSchema = z.strictObject({
  /** Off by default: a URL is then refused with a line saying how to turn it on. */
  enabled: z.boolean().optional(),
  /** Schemes a URL (and every redirect) may use; default https only. http also needs the request's opt-in. */
  allowedSchemes: z
    .array(z.enum(["https", "http"]))
    .min(1)
    .optional(),
  /** Host patterns (regular expressions matching the whole name) code may come from; default any. */
  allowedHosts: z.array(hostPattern).optional(),
  /** Host patterns code may never come from; deny wins. */
  blockedHosts: z.array(hostPattern).optional(),
  /** Largest code accepted, in bytes (default 1 MiB); the download stops past it. */
  maxCodeSize: z.number().int().positive().max(MAX_CODE_BYTES).optional(),
  /** The whole fetch, redirects included, in milliseconds (default 10000). */
  fetchTimeoutMs: z.number().int().positive().optional(),
  /** When true, a URL without the code's SHA-256 is refused. */
  requireHash: z.boolean().optional(),
  /** PEM files of extra CAs trusted for the fetch, on top of Node's (and NODE_EXTRA_CA_CERTS). */
  caCertificates: z.array(z.string().min(1)).optional(),
});

/** The `remoteCode` key of a configuration file. */
export type RemoteCodeConfig = z.infer<typeof remoteCodeConfigSchema>;
