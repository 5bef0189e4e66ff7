import type { ExitReport } from "../engine/protocol.js";
import type { SecretSet } from "../output/secret-masker.js";
import { TextStream } from "../output/text-stream.js";
import type { RichOutput } from "../types.js";
import { deferred } from "./deferred.js";

/**
 * One cell's output on its way from the kernel's records to the caller: the
 * output limit per stream, for the value and for the rich outputs together,
 * secret masking, and how a cell's end is recorded. Pure: no container, no
 * timers (test/unit/contexts-cell.test.ts).
 */

/** A piece of a cell's text output, masked, as the caller sees it. */
export type Output = { type: "stdout" | "stderr"; data: string };

const RICH_TYPES: readonly RichOutput["type"][] = ["image/png", "image/svg+xml", "text/html"];

/** Rich outputs kept per cell; more are dropped (and the result marked truncated). */
export const MAX_RICH_OUTPUTS = 256;
/** Rich outputs a cell may announce at all; past this the kernel is restarted. */
export const MAX_ANNOUNCED_OUTPUTS = 1024;

/** A rich output on its way in: `size` bytes of `type`, sent in parts. */
interface PendingOutput {
  type: RichOutput["type"];
  size: number;
  parts: Buffer[];
  bytes: number;
  stdoutOffset: number;
  /** Over the output limit, or parts that do not add up: left out. */
  dropped: boolean;
}

/** How a cell ended, as its context saw it. */
export type CellEnd =
  | { kind: "done"; status: string; exitCode: number; cpuMs: number; rssKb: number }
  | { kind: "lost"; reason: string; report?: ExitReport }
  | { kind: "closed" };

/** One cell on its way through the kernel. */
export class Cell {
  readonly ended = deferred<CellEnd>();
  finished = false;
  timedOut = false;
  truncated = false;
  private readonly streams: Record<Output["type"], { text: TextStream; bytes: number }>;
  private readonly value: Buffer[] = [];
  private valueBytes = 0;
  private readonly rich = new Map<number, PendingOutput>();
  private richBytes = 0;
  /** Characters of stdout emitted so far: where a rich output arriving now goes. */
  private stdoutChars = 0;
  /** PNG outputs left out because they hold a secret (after outputs()). */
  withheldImages = 0;

  constructor(
    readonly number: number,
    private readonly emit: (event: Output) => void,
    private readonly secrets: SecretSet,
    private readonly limit: number,
  ) {
    this.streams = {
      stdout: { text: new TextStream(secrets), bytes: 0 },
      stderr: { text: new TextStream(secrets), bytes: 0 },
    };
  }

  output(type: Output["type"], bytes: Buffer): void {
    const stream = this.streams[type];
    const room = this.limit - stream.bytes;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const kept = bytes.length > room ? bytes.subarray(0, room) : bytes;
    if (kept.length < bytes.length) this.truncated = true;
    stream.bytes += kept.length;
    const data = stream.text.push(kept);
    if (data) this.emitText(type, data);
  }

  private emitText(type: Output["type"], data: string): void {
    if (type === "stdout") this.stdoutChars += data.length;
    this.emit({ type, data });
  }

  /**
   * A part of rich output `index`; its first part names the type and size.
   * Returns why the kernel must be restarted (an invalid record, or too many
   * outputs), else undefined. All of a cell's outputs share the output
   * limit; one that does not fit is dropped whole.
   */
  addOutput(index: number, type: unknown, size: unknown, bytes: Buffer): string | undefined {
    let output = this.rich.get(index);
    if (!output) {
      if (
        !RICH_TYPES.includes(type as RichOutput["type"]) ||
        typeof size !== "number" ||
        !Number.isSafeInteger(size) ||
        size < 0
      )
        return "broke the context protocol (bad output record)";
      // Every output costs the engine memory even when dropped: a cell
      // announcing thousands is abusing the protocol, not plotting.
      if (this.rich.size >= MAX_ANNOUNCED_OUTPUTS)
        return `showed more than ${MAX_ANNOUNCED_OUTPUTS} rich outputs in one cell`;
      const dropped = this.rich.size >= MAX_RICH_OUTPUTS || size > this.limit - this.richBytes;
      if (dropped) this.truncated = true;
      else this.richBytes += size;
      output = {
        type: type as RichOutput["type"],
        size,
        parts: [],
        bytes: 0,
        stdoutOffset: this.stdoutChars + this.streams.stdout.text.held,
        dropped,
      };
      this.rich.set(index, output);
    }
    if (output.dropped) return undefined;
    output.bytes += bytes.length;
    if (output.bytes > output.size) output.dropped = true;
    else output.parts.push(bytes);
    return undefined;
  }

  /** The complete rich outputs in order (after close()): PNG as base64, text masked. */
  outputs(): RichOutput[] {
    const outputs: RichOutput[] = [];
    let offset = 0;
    for (const index of [...this.rich.keys()].sort((a, b) => a - b)) {
      const output = this.rich.get(index) as PendingOutput;
      if (output.dropped || output.bytes !== output.size) continue;
      const bytes = Buffer.concat(output.parts);
      let data: string;
      if (output.type === "image/png") {
        // An image cannot be masked without corrupting it: one holding a secret is left out.
        if (this.secrets.foundIn(bytes)) {
          this.withheldImages++;
          continue;
        }
        data = bytes.toString("base64");
      } else {
        const text = new TextStream(this.secrets);
        data = text.push(bytes) + text.end();
      }
      offset = Math.min(Math.max(offset, output.stdoutOffset), this.stdoutChars);
      outputs.push({ type: output.type, data, stdoutOffset: offset });
    }
    return outputs;
  }

  addValue(bytes: Buffer): void {
    const room = this.limit - this.valueBytes;
    const kept = bytes.length > room ? bytes.subarray(0, Math.max(room, 0)) : bytes;
    if (kept.length < bytes.length) this.truncated = true;
    this.valueBytes += kept.length;
    if (kept.length) this.value.push(kept);
  }

  /** Records how the cell ended; the first end counts, later ones are ignored. */
  finish(end: CellEnd): void {
    if (this.finished) return;
    this.finished = true;
    this.ended.resolve(end);
  }

  /** Flushes what the text streams held back; the value as masked text. */
  close(): string | undefined {
    for (const type of ["stdout", "stderr"] as const) {
      const data = this.streams[type].text.end();
      if (data) this.emitText(type, data);
    }
    if (!this.value.length) return undefined;
    const text = new TextStream(this.secrets);
    return text.push(Buffer.concat(this.value)) + text.end();
  }
}
