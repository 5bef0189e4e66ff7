/**
 * The configuration files a user has trusted: each file's real path and the
 * SHA-256 of the content they trusted, in `~/.isol8/trusted-configs.json`
 * (written by `isol8 config trust`). A trusted file whose content changed is
 * no longer trusted: the user is asked again.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { ConfigError } from "./file.js";

/** Where the trusted hashes are kept. */
function trustStorePath(home = homedir()): string {
  return join(home, ".isol8", "trusted-configs.json");
}

/** The content hash a trust entry records. */
function contentHash(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

interface TrustStore {
  /** real path -> the trusted content's SHA-256 and when it was trusted. */
  files: Record<string, { sha256: string; trustedAt: string }>;
}

function readStore(home: string): TrustStore {
  const path = trustStorePath(home);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { files: {} };
    throw new ConfigError(`${path}: cannot read (${(error as NodeJS.ErrnoException).code})`);
  }
  try {
    const store = JSON.parse(text) as TrustStore;
    if (typeof store.files !== "object" || store.files === null) throw new Error("no files");
    return store;
  } catch {
    throw new ConfigError(`${path}: not a trust list written by \`isol8 config trust\``);
  }
}

/** What the store says of this file: trusted with this content, trusted before it changed, or never. */
export function trustOf(
  path: string,
  text: string,
  home = homedir(),
): "trusted" | "changed" | "no" {
  const entry = readStore(home).files[realpathSync(path)];
  if (!entry) return "no";
  return entry.sha256 === contentHash(text) ? "trusted" : "changed";
}

/** Records `text` as the trusted content of the file at `path`; returns its hash. */
export function recordTrust(path: string, text: string, home = homedir()): string {
  const store = readStore(home);
  const sha256 = contentHash(text);
  store.files[realpathSync(path)] = { sha256, trustedAt: new Date().toISOString() };
  const target = trustStorePath(home);
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  // Written whole, then renamed: a reader never sees half a list.
  const temporary = `${target}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(store, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, target);
  return sha256;
}
