import type { NetworkLogEntry } from "../types.js";
import type { SecretSet } from "./secret-masker.js";

/**
 * A connection's record with secrets masked in every field the program
 * chose: the method and path it sent, the host it named, and the reason,
 * which quotes the host and the upstream's own error.
 */
export function redactNetworkLog(entry: NetworkLogEntry, secrets: SecretSet): NetworkLogEntry {
  if (secrets.empty) return entry;
  const masked: NetworkLogEntry = {
    ...entry,
    method: secrets.mask(entry.method),
    host: secrets.mask(entry.host),
    // Stryker disable next-line ConditionalExpression: mask() returns a non-string as it is, so masking null gives null too
    path: entry.path === null ? null : secrets.mask(entry.path),
  };
  if (entry.reason !== undefined) masked.reason = secrets.mask(entry.reason);
  return masked;
}

/**
 * The same error with secrets masked in its message (and its stack, which
 * repeats it): an engine error can quote what a program printed or named.
 */
export function redactError<T>(error: T, secrets: SecretSet): T {
  if (secrets.empty || !(error instanceof Error)) return error;
  const message = secrets.mask(error.message);
  if (message !== error.message) {
    error.message = message;
    // Stryker disable next-line ConditionalExpression: mask() returns an absent stack as it is
    if (error.stack) error.stack = secrets.mask(error.stack);
  }
  return error;
}

/** A file's content, refused when it holds a secret in any form (edits would corrupt it). */
export function withheldReason(content: Uint8Array, secrets: SecretSet): string | undefined {
  return secrets.foundIn(content)
    ? "withheld: it contains the value of a secret (raw or encoded)"
    : undefined;
}
