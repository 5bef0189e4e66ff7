/**
 * What one process has printed, for whoever connects to it later: the most
 * recent `capacity` bytes in the order they came, stdout and stderr
 * interleaved as they arrived, with the count of older bytes dropped. The
 * engine's memory per process stays bounded however much it prints and
 * whether or not anyone reads.
 *
 * The bytes are copied into one ring buffer and their streams kept as runs
 * of lengths, rather than keeping each piece as it came: a process decides
 * how small its pieces are (one byte per write, streams alternating), and a
 * kept object per piece made a log of 1 MiB cost the engine over 100 MiB.
 * Here a log holds at most its capacity in bytes and four bytes per run.
 */

/** A piece of a process's output. */
export interface OutputChunk {
  stream: "stdout" | "stderr";
  data: Buffer;
}

/** The ring's first size: most processes print little. */
const FIRST_BYTES = 4096;
const FIRST_RUNS = 64;
/** The longest run one entry holds (an Int32Array's); a longer one takes several. */
const MAX_RUN = 2 ** 30;

export class OutputLog {
  /** The kept bytes: `kept` of them from `start`, wrapping at the end; grows up to the capacity. */
  private ring = Buffer.alloc(0);
  private start = 0;
  private kept = 0;
  /** The streams of the kept bytes, oldest first: `runCount` lengths from `runHead`, negative for stderr. */
  private runs = new Int32Array(0);
  private runHead = 0;
  private runCount = 0;
  private droppedBytes = 0;

  constructor(private readonly capacity: number) {}

  /** Adds a chunk, dropping the oldest bytes past the capacity. */
  append(chunk: OutputChunk): void {
    let { data } = chunk;
    if (data.length === 0) return;
    if (data.length >= this.capacity) {
      this.droppedBytes += this.kept + data.length - this.capacity;
      data = data.subarray(data.length - this.capacity);
      this.start = 0;
      this.kept = 0;
      this.runHead = 0;
      this.runCount = 0;
    } else {
      this.dropOldest(this.kept + data.length - this.capacity);
    }
    this.makeRoom(data.length);
    const end = (this.start + this.kept) % this.ring.length;
    const first = data.copy(this.ring, end);
    data.copy(this.ring, 0, first);
    this.kept += data.length;
    const sign = chunk.stream === "stderr" ? -1 : 1;
    for (let left = data.length; left > 0; left -= MAX_RUN)
      this.addRun(sign, Math.min(left, MAX_RUN));
  }

  private dropOldest(bytes: number): void {
    if (bytes <= 0) return;
    this.start = (this.start + bytes) % this.ring.length;
    this.kept -= bytes;
    this.droppedBytes += bytes;
    let left = bytes;
    while (left > 0) {
      const run = this.runs[this.runHead] as number;
      const length = Math.abs(run);
      if (length <= left) {
        this.runHead++;
        this.runCount--;
        left -= length;
      } else {
        this.runs[this.runHead] = Math.sign(run) * (length - left);
        left = 0;
      }
    }
  }

  /** Grows the ring (up to the capacity) so that `bytes` more fit beside the kept ones. */
  private makeRoom(bytes: number): void {
    const needed = this.kept + bytes;
    if (needed <= this.ring.length) return;
    let size = Math.max(this.ring.length, FIRST_BYTES);
    while (size < needed) size *= 2;
    const grown = Buffer.alloc(Math.min(size, this.capacity));
    this.copyKept(grown, 0, this.kept);
    this.ring = grown;
    this.start = 0;
  }

  /** Copies `length` kept bytes, from the `offset`-th oldest, into `target`. */
  private copyKept(target: Buffer, offset: number, length: number): void {
    if (length === 0) return;
    const from = (this.start + offset) % this.ring.length;
    const first = Math.min(length, this.ring.length - from);
    this.ring.copy(target, 0, from, from + first);
    this.ring.copy(target, first, 0, length - first);
  }

  private addRun(sign: number, length: number): void {
    const lastIndex = this.runHead + this.runCount - 1;
    const last = this.runCount > 0 ? (this.runs[lastIndex] as number) : 0;
    if (Math.sign(last) === sign && Math.abs(last) + length <= MAX_RUN) {
      this.runs[lastIndex] = last + sign * length;
      return;
    }
    if (this.runHead + this.runCount === this.runs.length) {
      // Full at its end: the live runs move to the front, or to a larger array once they fill half.
      if (this.runs.length > 0 && this.runCount * 2 <= this.runs.length) {
        this.runs.copyWithin(0, this.runHead, this.runHead + this.runCount);
      } else {
        const grown = new Int32Array(Math.max(FIRST_RUNS, this.runs.length * 2));
        grown.set(this.runs.subarray(this.runHead, this.runHead + this.runCount));
        this.runs = grown;
      }
      this.runHead = 0;
    }
    this.runs[this.runHead + this.runCount] = sign * length;
    this.runCount++;
  }

  /** Calls `visit` with each run, oldest first: its stream, and where its bytes start among the kept ones. */
  private eachRun(
    visit: (stream: OutputChunk["stream"], offset: number, length: number) => void,
  ): void {
    let offset = 0;
    for (let i = this.runHead; i < this.runHead + this.runCount; i++) {
      const run = this.runs[i] as number;
      visit(run < 0 ? "stderr" : "stdout", offset, Math.abs(run));
      offset += Math.abs(run);
    }
  }

  /** The kept output, oldest first: one chunk per run of a stream, each a copy. */
  history(): readonly OutputChunk[] {
    const chunks: OutputChunk[] = [];
    this.eachRun((stream, offset, length) => {
      const data = Buffer.alloc(length);
      this.copyKept(data, offset, length);
      chunks.push({ stream, data });
    });
    return chunks;
  }

  /** The kept bytes of one stream, joined. */
  text(stream: OutputChunk["stream"]): string {
    let total = 0;
    this.eachRun((s, _, length) => {
      if (s === stream) total += length;
    });
    const bytes = Buffer.alloc(total);
    let at = 0;
    this.eachRun((s, offset, length) => {
      if (s !== stream) return;
      this.copyKept(bytes.subarray(at), offset, length);
      at += length;
    });
    return bytes.toString();
  }

  /** Bytes printed but no longer kept. */
  get dropped(): number {
    return this.droppedBytes;
  }
}
