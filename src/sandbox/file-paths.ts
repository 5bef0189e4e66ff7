/**
 * Which paths `sandbox.files` takes: anything beneath the sandbox's two
 * writable places, /sandbox and /tmp; a relative path is taken from
 * /sandbox (the sandbox user's home). This is the rule about the path's
 * text; where a symlink leads is checked by the supervisor, beneath the
 * place, as it opens (sandbox/files.c). Pure: no I/O.
 */
import { posix } from "node:path";
import { InvalidOptionError } from "../engine/errors.js";
import { SANDBOX_DIR, TMP_DIR } from "../sandbox-layout.js";
import { SandboxFileRefusedError } from "./errors.js";

const PLACES = [SANDBOX_DIR, TMP_DIR] as const;
/** The longest path the supervisor resolves (PATH_MAX). */
const MAX_PATH_BYTES = 4096;

/**
 * `value` as an absolute, normalized path (no `.`, `..`, repeated or
 * trailing slashes); InvalidOptionError naming `field` for what is not a
 * path at all, SandboxFileRefusedError for a path outside the places.
 */
export function filePath(field: string, value: unknown): string {
  if (typeof value !== "string" || value === "")
    throw new InvalidOptionError(`${field}: must be a non-empty string`);
  if (value.includes("\0"))
    throw new InvalidOptionError(`${field}: must not contain a NUL character`);
  const absolute = value.startsWith("/") ? value : `${SANDBOX_DIR}/${value}`;
  const normalized = posix.normalize(absolute).replace(/(?<=.)\/+$/, "");
  const inside = PLACES.some((place) => normalized === place || normalized.startsWith(`${place}/`));
  if (!inside)
    throw new SandboxFileRefusedError(
      value,
      `is outside the sandbox's writable places (${PLACES.join(" and ")})`,
    );
  if (Buffer.byteLength(normalized) > MAX_PATH_BYTES)
    throw new InvalidOptionError(`${field}: longer than ${MAX_PATH_BYTES} bytes`);
  return normalized;
}

/** Whether `path` (from `filePath`) is /sandbox or /tmp itself, which cannot be moved or removed. */
export function isPlace(path: string): boolean {
  return (PLACES as readonly string[]).includes(path);
}
