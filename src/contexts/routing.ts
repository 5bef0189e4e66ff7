import type { Cell } from "./cell.js";
import type { KernelRecord } from "./records.js";

/**
 * Where a kernel's records go: which cell a record counts for, what happens
 * to output that comes between cells, and which records end the kernel.
 * Cell code can forge records (it runs in the kernel's process), so a record
 * is believed only about the cell it names when that is the running cell:
 * one for another cell (an earlier one's straggler, or a forged number) is
 * not this cell's value, output or end. Text output is not tied to a cell
 * number: a thread a cell left behind prints into whichever cell runs, or
 * into the stash between cells. Pure (test/unit/contexts-routing.test.ts).
 */

/** What a record asks of the context beyond the cell it went to. */
export type RecordEffect =
  /** The kernel said it is ready. */
  | { kind: "ready" }
  /** The kernel must be killed (and restarted) for `reason`. */
  | { kind: "kill"; reason: string }
  | undefined;

/** One context's record routing, with the output that came between its cells. */
export class RecordRouter {
  private stash: { type: "stdout" | "stderr"; bytes: Buffer }[] = [];
  private stashBytes = 0;

  /** @param maxStashBytes output kept between cells (the cells' output limit); the rest is dropped */
  constructor(private readonly maxStashBytes: number) {}

  /** Delivers `record` to `cell` (the running cell, if any) as far as the record is believed. */
  route(record: KernelRecord, cell: Cell | undefined): RecordEffect {
    if (record.type === "ready") return { kind: "ready" };
    const current = cell !== undefined && record.cell === cell.number;
    switch (record.type) {
      case "stdout":
      case "stderr":
        if (cell) cell.output(record.type, record.data);
        else if (this.stashBytes < this.maxStashBytes) {
          this.stash.push({ type: record.type, bytes: record.data });
          this.stashBytes += record.data.length;
        }
        return undefined;
      case "value":
        if (current) cell.addValue(record.data);
        return undefined;
      case "output": {
        const problem = current
          ? cell.addOutput(record.index, record.mime, record.size, record.data)
          : undefined;
        return problem ? { kind: "kill", reason: problem } : undefined;
      }
      case "done":
        if (current) {
          const { status, exitCode, cpuMs, rssKb } = record;
          cell.finish({ kind: "done", status, exitCode, cpuMs, rssKb });
        }
        return undefined;
    }
  }

  /** The output that came since the last cell goes to `cell` first, as its own output. */
  giveStash(cell: Cell): void {
    for (const { type, bytes } of this.stash.splice(0)) cell.output(type, bytes);
    this.stashBytes = 0;
  }

  /** Forgets the output between cells (the context is reset). */
  clear(): void {
    this.stash = [];
    this.stashBytes = 0;
  }
}
