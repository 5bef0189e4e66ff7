import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/** A token `isol8 login` stored for one server. */
interface StoredCredential {
  token: string;
  /** ISO 8601, or null for a token that does not expire. */
  expiresAt: string | null;
  keyId?: string;
}

/** `~/.isol8/credentials.json`: tokens by server URL, readable by the user only (0600). */
export function credentialsPath(): string {
  return join(homedir(), ".isol8", "credentials.json");
}

/** A server URL as credentials are keyed by it: no trailing slash. */
export function normalizeHost(host: string): string {
  return host.replace(/\/+$/, "");
}

export function readCredentials(path = credentialsPath()): Record<string, StoredCredential> {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, StoredCredential>;
  } catch {
    return {};
  }
}

function writeCredentials(all: Record<string, StoredCredential>, path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
  // writeFile's mode applies only when it creates the file.
  chmodSync(path, 0o600);
}

export function saveCredential(
  host: string,
  credential: StoredCredential,
  path = credentialsPath(),
): void {
  writeCredentials({ ...readCredentials(path), [normalizeHost(host)]: credential }, path);
}

/** Forgets the token for `host`, or every token; the number forgotten. */
export function removeCredentials(host: string | undefined, path = credentialsPath()): number {
  const all = readCredentials(path);
  const hosts =
    host === undefined ? Object.keys(all) : [normalizeHost(host)].filter((h) => h in all);
  for (const h of hosts) delete all[h];
  if (hosts.length) writeCredentials(all, path);
  return hosts.length;
}

/**
 * The key to use for `host`: the one given, else `ISOL8_API_KEY`, else an
 * unexpired token from `isol8 login`.
 */
export function resolveApiKey(
  host: string,
  given: string | undefined,
  now = Date.now(),
): string | undefined {
  if (given) return given;
  if (process.env.ISOL8_API_KEY) return process.env.ISOL8_API_KEY;
  const stored = readCredentials()[normalizeHost(host)];
  if (!stored) return undefined;
  if (stored.expiresAt !== null && Date.parse(stored.expiresAt) <= now) return undefined;
  return stored.token;
}
