/**
 * The records a code context's kernel sends on its protocol channel (JSON
 * lines on the kernel run's stdout; see the header of
 * sandbox/bootstrap/context.py), turned from raw bytes into typed records,
 * with the bounds the engine holds every kernel to. Pure: no Docker, no
 * timers, so forged, oversized and flooding input is tested without a
 * container (test/unit/contexts-records.test.ts).
 *
 * What a record proves: only that something in the context's sandbox wrote
 * it. Cell code runs in the kernel's own process and can write to the
 * channel as well as the kernel can, so nothing here is trusted beyond its
 * shape; a record's worst effect is on its own context's results (a cell
 * that forges its own `done` ends early, and is then frozen with the rest of
 * the context until its next cell, see context.ts). The bounds make sure that
 * whatever is written costs the engine no more than a cell's budget.
 */

/** One record from a kernel, its shape checked; `data` already decoded from base64. */
export type KernelRecord =
  | { type: "ready" }
  | { type: "stdout" | "stderr"; cell: unknown; data: Buffer }
  | { type: "value"; cell: unknown; data: Buffer }
  | { type: "output"; cell: unknown; index: number; mime: unknown; size: unknown; data: Buffer }
  | {
      type: "done";
      cell: unknown;
      status: string;
      exitCode: number;
      cpuMs: number;
      rssKb: number;
    };

/** What a feed of bytes gave: the whole records in it, and why the kernel must go, if it must. */
interface FeedResult {
  records: KernelRecord[];
  /** Set when the input broke the protocol or its budget; records after the fault are not returned. */
  violation?: string;
}

/** The bounds a kernel's channel is held to. */
interface KernelChannelLimits {
  /** Longest line accepted; the kernels write lines of at most 4096 bytes. */
  maxLineBytes: number;
  /**
   * Bytes of protocol a kernel may send while one cell runs (and between it
   * and the next). A cell's output is cut at its output limit, but records
   * past the cut still cost the engine their parsing; this ends a context
   * that floods its channel instead of letting it hold an engine thread.
   */
  maxBytesPerCell: number;
}

/** Longest protocol line accepted from a kernel; its lines are at most 4096 bytes. */
const MAX_LINE_BYTES = 64 * 1024;
/**
 * Protocol bytes a kernel may send for one cell, whatever its output limit:
 * a cell that prints its limit's worth in one-byte writes, as separate
 * records, stays well inside it; a thread that floods the channel does not.
 */
const MIN_PROTOCOL_BYTES_PER_CELL = 64 * 1024 * 1024;

/** The bounds the kernel of a context whose cells have output limit `maxOutputBytes` is held to. */
export function channelLimits(maxOutputBytes: number): KernelChannelLimits {
  return {
    maxLineBytes: MAX_LINE_BYTES,
    // Two output streams, the value and the rich outputs each up to the
    // limit, as base64 in records: well under 8 times the limit.
    maxBytesPerCell: Math.max(MIN_PROTOCOL_BYTES_PER_CELL, 8 * maxOutputBytes),
  };
}

/** Base64 record data as bytes; undefined when it is not base64 text. */
function base64Bytes(data: unknown): Buffer | undefined {
  if (typeof data !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) return undefined;
  return Buffer.from(data, "base64");
}

function finiteOrZero(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

/** One protocol line as a record, or the reason it is not one. */
export function parseKernelRecord(line: string): KernelRecord | { violation: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    return { violation: "it wrote something that is not a protocol record" };
  const record = parsed as Record<string, unknown>;
  const { type, cell } = record;
  switch (type) {
    case "ready":
      return { type };
    case "stdout":
    case "stderr":
    case "value": {
      const data = base64Bytes(record.data);
      if (!data) return { violation: `bad ${type === "value" ? "value" : "output"} record` };
      return { type, cell, data };
    }
    case "output": {
      const data = base64Bytes(record.data);
      const { index } = record;
      if (!data || typeof index !== "number" || !Number.isSafeInteger(index) || index < 1)
        return { violation: "bad output record" };
      return { type, cell, index, mime: record.mime, size: record.size, data };
    }
    case "done":
      return {
        type,
        cell,
        status: typeof record.status === "string" ? record.status : "error",
        exitCode: finiteOrZero(record.exitCode),
        cpuMs: finiteOrZero(record.cpuMs),
        rssKb: finiteOrZero(record.rssKb),
      };
    default:
      return { violation: "unknown record" };
  }
}

/**
 * Splits a kernel's stdout into records, in time linear in its size (a
 * flood of tiny records must not make each chunk cost its square), within
 * the channel's limits.
 */
export class KernelRecordReader {
  private pending = "";
  private cellBytes = 0;
  private broken = false;

  constructor(private readonly limits: KernelChannelLimits) {}

  /** A new cell starts: its budget starts from nothing. */
  startCell(): void {
    this.cellBytes = 0;
  }

  feed(chunk: Buffer): FeedResult {
    if (this.broken) return { records: [] };
    this.cellBytes += chunk.length;
    if (this.cellBytes > this.limits.maxBytesPerCell)
      return this.fail(
        [],
        `it sent more than ${this.limits.maxBytesPerCell} bytes of protocol for one cell`,
      );
    // latin1 keeps one character per byte: line lengths are byte counts, and
    // base64 and JSON punctuation are ASCII.
    const text = this.pending + chunk.toString("latin1");
    const records: KernelRecord[] = [];
    let start = 0;
    let newline = text.indexOf("\n", start);
    while (newline >= 0) {
      if (newline - start > this.limits.maxLineBytes)
        return this.fail(records, "it wrote a protocol line longer than allowed");
      const parsed = parseKernelRecord(text.slice(start, newline));
      if ("violation" in parsed) return this.fail(records, parsed.violation);
      records.push(parsed);
      start = newline + 1;
      newline = text.indexOf("\n", start);
    }
    this.pending = text.slice(start);
    if (this.pending.length > this.limits.maxLineBytes)
      return this.fail(records, "it wrote a protocol line longer than allowed");
    return { records };
  }

  private fail(records: KernelRecord[], violation: string): FeedResult {
    this.broken = true;
    this.pending = "";
    return { records, violation };
  }
}
