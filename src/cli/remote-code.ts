import { fetchCode } from "../remote-code/fetch-code.js";
import { RemoteCodeError, remoteCodePolicy } from "../remote-code/policy.js";
import { gistRawUrl, githubRawUrl } from "../remote-code/url.js";
import type { RemoteCodeSource } from "./code-input.js";
import { cliConfig } from "./config-files.js";
import { CliError, EXIT } from "./exit-codes.js";

/** The `isol8 run` flags of remote code. */
export interface RemoteCodeFlags {
  url?: string;
  github?: string;
  gist?: string;
  hash?: string;
  allowInsecureCodeUrl?: boolean;
  /** `--config FILE`: where `remoteCode` is read from instead of ./isol8.config.json. */
  config?: string;
}

const SOURCES = ["url", "github", "gist"] as const;

/**
 * Refused and invalid requests are bad input (exit 2); a fetch that failed
 * (network, TLS, timeout, HTTP status, redirects) is isol8 failing to get
 * the code (exit 125).
 */
export function remoteCodeCliError(error: unknown): unknown {
  if (!(error instanceof RemoteCodeError)) return error;
  return new CliError(error.message, error.kind === "fetch" ? EXIT.isol8Error : EXIT.usage);
}

/**
 * The code source `--url`, `--github` or `--gist` names, if one does: its URL
 * and how to fetch it under the configuration's `remoteCode` policy. Refuses
 * (exit 2) two of them, `--hash` or `--allow-insecure-code-url` without one,
 * bad shorthand, and any of them while `remoteCode.enabled` is not true.
 */
export function remoteCodeSource(flags: RemoteCodeFlags): RemoteCodeSource | undefined {
  const given = SOURCES.filter((key) => flags[key] !== undefined);
  if (given.length === 0) {
    if (flags.hash !== undefined) throw new CliError("--hash needs --url, --github or --gist");
    if (flags.allowInsecureCodeUrl)
      throw new CliError("--allow-insecure-code-url needs --url, --github or --gist");
    return undefined;
  }
  if (given.length > 1)
    throw new CliError(
      `give one of --url, --github and --gist, not ${given.map((k) => `--${k}`).join(" and ")}`,
    );
  const key = given[0] as (typeof SOURCES)[number];
  const flag = `--${key}`;
  const spec = flags[key] as string;
  const { config, sources } = cliConfig(flags.config);
  const path = sources.at(-1)?.path;
  const settings = config.remoteCode ?? {};
  if (settings.enabled !== true)
    throw new CliError(
      `${flag}: remote code is disabled; enable it with "remoteCode": { "enabled": true } in ${path ?? "./isol8.config.json or ~/.isol8/config.json"}`,
    );
  let policy: ReturnType<typeof remoteCodePolicy>;
  try {
    policy = remoteCodePolicy(settings);
  } catch (error) {
    throw new CliError(`${path}: ${(error as Error).message}`);
  }
  try {
    const url = key === "github" ? githubRawUrl(spec) : key === "gist" ? gistRawUrl(spec) : spec;
    return {
      flag,
      url,
      fetch: async () => {
        try {
          const fetched = await fetchCode(url, {
            policy,
            names: { url: flag, hash: "--hash", insecure: "--allow-insecure-code-url" },
            ...(flags.hash !== undefined ? { hash: flags.hash } : {}),
            allowInsecure: flags.allowInsecureCodeUrl === true,
          });
          return fetched.code;
        } catch (error) {
          throw remoteCodeCliError(error);
        }
      },
    };
  } catch (error) {
    throw remoteCodeCliError(error);
  }
}
