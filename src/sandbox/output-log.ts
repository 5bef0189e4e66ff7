/**
 * What one process has printed, for whoever connects to it later: the most
 * recent `capacity` bytes in the order they came, stdout and stderr
 * interleaved as they arrived, with the count of older bytes dropped. The
 * engine's memory per process stays bounded however much it prints and
 * whether or not anyone reads.
 */

/** A piece of a process's output. */
export interface OutputChunk {
  stream: "stdout" | "stderr";
  data: Buffer;
}

export class OutputLog {
  private readonly chunks: OutputChunk[] = [];
  private bytes = 0;
  private droppedBytes = 0;

  constructor(private readonly capacity: number) {}

  /** Adds a chunk, dropping the oldest bytes past the capacity. */
  append(chunk: OutputChunk): void {
    let { data } = chunk;
    if (data.length > this.capacity) {
      this.droppedBytes += data.length - this.capacity;
      data = data.subarray(data.length - this.capacity);
    }
    this.chunks.push({ stream: chunk.stream, data });
    this.bytes += data.length;
    while (this.bytes > this.capacity) {
      const oldest = this.chunks[0] as OutputChunk;
      const over = this.bytes - this.capacity;
      if (oldest.data.length <= over) {
        this.chunks.shift();
        this.bytes -= oldest.data.length;
        this.droppedBytes += oldest.data.length;
      } else {
        oldest.data = oldest.data.subarray(over);
        this.bytes -= over;
        this.droppedBytes += over;
      }
    }
  }

  /** The kept output, oldest first. */
  history(): readonly OutputChunk[] {
    return [...this.chunks];
  }

  /** The kept bytes of one stream, joined. */
  text(stream: "stdout" | "stderr"): string {
    return Buffer.concat(
      this.chunks.filter((c) => c.stream === stream).map((c) => c.data),
    ).toString();
  }

  /** Bytes printed but no longer kept. */
  get dropped(): number {
    return this.droppedBytes;
  }
}
