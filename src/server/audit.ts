import { createHash } from "node:crypto";
import {
  createWriteStream,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  type WriteStream,
} from "node:fs";
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

/** How large the audit log grows: the file, and the rotated files kept beside it. */
interface AuditRotation {
  /** A line that would take the file past this many bytes goes to a fresh file. */
  maxBytes: number;
  /** Rotated files kept (`<path>.1` newest ... `<path>.<keep>` oldest); older ones are deleted. */
  keep: number;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * Appends JSON lines to a file (created 0600), one per finished execution.
 * When the next line would take the file past `maxBytes`, the file becomes
 * `<path>.1` (the older ones move up, the one past `keep` is deleted) and a
 * new one is started, so the log never holds more than `(keep + 1) *
 * maxBytes` bytes and no line is split between files.
 */
export class AuditLog {
  private out: WriteStream;
  private size: number;
  private stopped = false;

  constructor(
    private readonly path: string,
    private readonly rotation: AuditRotation,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.size = Math.max(0, sizeOf(path));
    this.out = this.open();
  }

  write(entry: AuditEntry): void {
    const line = `${JSON.stringify(entry)}\n`;
    const bytes = Buffer.byteLength(line);
    if (this.size > 0 && this.size + bytes > this.rotation.maxBytes) this.rotate();
    if (this.stopped || this.out.destroyed) return;
    this.out.write(line);
    this.size += bytes;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }

  private open(): WriteStream {
    // Opened at once, not when the stream gets to it: a rotation right after
    // must rename the file these lines go to, not race its creation.
    const fd = openSync(this.path, "a", 0o600);
    const out = createWriteStream("", { fd });
    // A full disk must not take executions down with it; the failure is reported once per file.
    out.once("error", (error) =>
      process.stderr.write(`isol8 serve: audit log: ${error.message}\n`),
    );
    return out;
  }

  /**
   * Renaming is safe while the old stream still has writes pending: they
   * land in the same file under its new name.
   */
  private rotate(): void {
    const { keep } = this.rotation;
    try {
      rmSync(`${this.path}.${keep}`, { force: true });
      for (let n = keep - 1; n >= 1; n--) {
        if (sizeOf(`${this.path}.${n}`) >= 0)
          renameSync(`${this.path}.${n}`, `${this.path}.${n + 1}`);
      }
      renameSync(this.path, `${this.path}.1`);
    } catch (error) {
      // Reported, then retried only after another maxBytes, not on every line.
      process.stderr.write(`isol8 serve: audit log: cannot rotate: ${(error as Error).message}\n`);
      this.size = 0;
      return;
    }
    this.out.end();
    this.size = 0;
    try {
      this.out = this.open();
    } catch (error) {
      // Lines from here on are dropped (the old stream still flushes its own), reported once.
      process.stderr.write(`isol8 serve: audit log: ${(error as Error).message}\n`);
      this.stopped = true;
    }
  }
}

/** Size of a file in bytes, -1 when there is none (0 for an empty one). */
function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}
