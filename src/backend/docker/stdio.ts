/**
 * The largest record accepted. Docker writes a record per read of the
 * process's output (32 KiB at most) or per log line (16 KiB); a header
 * announcing more is not Docker's, and waiting for its payload would buffer
 * without bound.
 */
export const MAX_STDIO_RECORD_BYTES = 4 * 1024 * 1024;

/** A multiplexed stdio stream that is not one: a record header no Docker writes. */
export class DockerStdioError extends Error {
  override readonly name = "DockerStdioError";
}

/**
 * Splits Docker's multiplexed attach stream (non-TTY) into stdout and stderr
 * payloads. Each record: 1 byte stream id (0 stdin, 1 stdout, 2 stderr, 3 the
 * engine's own error), 3 zero bytes, 4 byte BE length. `push` throws a
 * DockerStdioError for a header that breaks these rules; the stream cannot be
 * read past it, so the caller ends it.
 */
export class DockerStdioDemuxer {
  private buffered: Buffer = Buffer.alloc(0);
  private broken: DockerStdioError | undefined;

  constructor(
    private readonly onStdout: (chunk: Buffer) => void,
    private readonly onStderr: (chunk: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.broken) throw this.broken;
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    let offset = 0;
    while (this.buffered.length - offset >= 8) {
      const stream = this.buffered[offset] ?? 0;
      const length = this.buffered.readUInt32BE(offset + 4);
      if (stream > 3 || this.buffered.readUIntBE(offset + 1, 3) !== 0) {
        const header = this.buffered.subarray(offset, offset + 8).toString("hex");
        this.buffered = Buffer.alloc(0);
        this.broken = new DockerStdioError(
          `not a multiplexed stdio stream: record header ${header}`,
        );
        throw this.broken;
      }
      if (length > MAX_STDIO_RECORD_BYTES) {
        this.buffered = Buffer.alloc(0);
        this.broken = new DockerStdioError(
          `a multiplexed stdio record of ${length} bytes (at most ${MAX_STDIO_RECORD_BYTES} are accepted)`,
        );
        throw this.broken;
      }
      if (this.buffered.length - offset - 8 < length) break;
      const payload = this.buffered.subarray(offset + 8, offset + 8 + length);
      if (stream >= 2) this.onStderr(payload);
      else this.onStdout(payload);
      offset += 8 + length;
    }
    this.buffered = this.buffered.subarray(offset);
  }
}
