/** Where a feed's input goes: a run's standard input. */
interface StdinSink {
  /** Resolves once the sandbox has taken `data`. */
  write(data: string): Promise<void>;
  end(): void;
}

/**
 * Standard input a client sends faster than its program reads it. Chunks
 * wait here in order until the run's sink takes them, one at a time; while
 * more than `highWaterBytes` wait (before the run has started too), the
 * client's connection is paused, so what the server holds for one
 * client is bounded by that mark plus what was already read off the socket.
 */
export class StdinFeed {
  private readonly chunks: (string | null)[] = [];
  private waitingBytes = 0;
  private sink: StdinSink | undefined;
  private pumping = false;
  private paused = false;
  private closed = false;

  constructor(
    private readonly connection: { pause(): void; resume(): void },
    private readonly highWaterBytes: number,
    /** A write the sink refused (a context's cell has no input); the rest of the input is dropped. */
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Queues a chunk of input; `null` is its end. */
  push(chunk: string | null): void {
    if (this.closed) return;
    this.chunks.push(chunk);
    this.waitingBytes += chunk?.length ?? 0;
    if (!this.paused && this.waitingBytes > this.highWaterBytes) {
      this.paused = true;
      this.connection.pause();
    }
    void this.pump();
  }

  /** The run has started: input flows to `sink` from now on. */
  attach(sink: StdinSink): void {
    this.sink = sink;
    void this.pump();
  }

  /** The run is over: whatever waits is dropped, and the connection is read again. */
  close(): void {
    this.closed = true;
    this.chunks.length = 0;
    this.waitingBytes = 0;
    this.resumeConnection();
  }

  private async pump(): Promise<void> {
    if (this.pumping || !this.sink) return;
    this.pumping = true;
    try {
      for (let chunk = this.chunks.shift(); chunk !== undefined; chunk = this.chunks.shift()) {
        if (chunk === null) this.sink.end();
        else {
          await this.sink.write(chunk);
          if (this.closed) return;
          this.waitingBytes -= chunk.length;
        }
        if (this.waitingBytes <= this.highWaterBytes / 2) this.resumeConnection();
      }
    } catch (error) {
      this.close();
      this.onError(error);
    } finally {
      this.pumping = false;
    }
  }

  private resumeConnection(): void {
    if (!this.paused) return;
    this.paused = false;
    this.connection.resume();
  }
}
