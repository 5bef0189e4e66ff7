import { createHash } from "node:crypto";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";
import type { ResourceUsage } from "../types.js";

/** One line of the audit log. The code itself is never logged, only its digest. */
export interface AuditEntry {
  time: string;
  executionId: string | null;
  tenantId: string;
  keyId: string | null;
  sessionId: string | null;
  runtime: string;
  /** SHA-256 (hex) of the code or command that ran. */
  codeSha256: string;
  exitCode: number | null;
  outcome: string;
  durationMs: number;
  resourceUsage: ResourceUsage | null;
  metadata: Record<string, string> | null;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Appends JSON lines to a file (created 0600), one per finished execution. */
export class AuditLog {
  private readonly out: WriteStream;

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.out = createWriteStream(path, { flags: "a", mode: 0o600 });
    // A full disk must not take executions down with it; the failure is reported once.
    this.out.once("error", (error) =>
      process.stderr.write(`isol8 serve: audit log: ${error.message}\n`),
    );
  }

  write(entry: AuditEntry): void {
    if (!this.out.destroyed) this.out.write(`${JSON.stringify(entry)}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}
