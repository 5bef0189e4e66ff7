import { createHash } from "node:crypto";

/**
 * Bump when the way images are assembled changes in a way the hashed inputs
 * do not show (for example how the build context is laid out).
 */
const IMAGE_FORMAT_VERSION = 1;

export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}

/**
 * SHA-256 of everything an image is built from (Dockerfile text, files copied
 * in, pinned package names and versions, the parent image's id), stored in
 * the image's `isol8.inputs` label. Equal hash = nothing to rebuild.
 */
export function inputsHash(inputs: Record<string, unknown>): string {
  return sha256(JSON.stringify(canonical({ format: IMAGE_FORMAT_VERSION, ...inputs })));
}
