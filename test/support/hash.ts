import { createHash } from "node:crypto";

/** The SHA-256 of a text or bytes, in hex, as isol8 prints and checks hashes. */
export const sha256 = (data: string | Buffer): string =>
  createHash("sha256").update(data).digest("hex");
