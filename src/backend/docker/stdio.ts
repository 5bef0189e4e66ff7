/**
 * Splits Docker's multiplexed attach stream (non-TTY) into stdout and stderr
 * payloads. Each record: 1 byte stream id, 3 zero bytes, 4 byte BE length.
 */
export class DockerStdioDemuxer {
  private buffered: Buffer = Buffer.alloc(0);

  constructor(
    private readonly onStdout: (chunk: Buffer) => void,
    private readonly onStderr: (chunk: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    let offset = 0;
    while (this.buffered.length - offset >= 8) {
      const length = this.buffered.readUInt32BE(offset + 4);
      if (this.buffered.length - offset - 8 < length) break;
      const payload = this.buffered.subarray(offset + 8, offset + 8 + length);
      if (this.buffered[offset] === 2) this.onStderr(payload);
      else this.onStdout(payload);
      offset += 8 + length;
    }
    this.buffered = this.buffered.subarray(offset);
  }
}
