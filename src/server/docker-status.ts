import { DockerUnavailableError } from "../backend/docker/client.js";
import type { Health } from "../wire/responses.js";
import { toHttpError } from "./errors.js";

/** How long one ping's answer stands for every caller: /health cannot be used to flood Docker. */
const PING_CACHE_MS = 1_000;
/** A ping that takes longer than this counts as no answer (a TCP engine that drops packets never refuses). */
const PING_TIMEOUT_MS = 3_000;

/**
 * Whether the Docker engine answers, as the server tells clients: `/health`
 * asks it, and a failure the server cannot explain otherwise is checked
 * against it, so a missing engine is a 503 that says so rather than a 500
 * quoting a socket error. Nothing is remembered beyond one ping, so the
 * server recovers on its own as soon as the engine answers again.
 */
export class DockerStatus {
  private last: { at: number; answer: Promise<DockerUnavailableError | undefined> } | undefined;

  constructor(
    /** Resolves when the engine answers; rejects (ideally with DockerUnavailableError) when not. */
    private readonly ping: () => Promise<void>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Undefined when the engine answers a ping; otherwise the error saying it does not. */
  check(): Promise<DockerUnavailableError | undefined> {
    const now = this.now();
    if (!this.last || now - this.last.at >= PING_CACHE_MS)
      this.last = { at: now, answer: this.pingOnce() };
    return this.last.answer;
  }

  /**
   * What a failure means to the client. One the server would answer with
   * 500 (an error isol8 did not make, such as `connect ENOENT
   * /var/run/docker.sock`) becomes the DockerUnavailableError when the engine
   * does not answer either; everything else is passed on as it is.
   */
  async explain(error: unknown): Promise<unknown> {
    if (toHttpError(error).status !== 500) return error;
    return (await this.check()) ?? error;
  }

  /** GET /health's status and body: 200 `ok`, or 503 `degraded` naming what is down. */
  async health(
    version: string,
  ): Promise<
    | { status: 200; body: Extract<Health, { status: "ok" }> }
    | { status: 503; body: Extract<Health, { status: "degraded" }> }
  > {
    const unreachable = await this.check();
    if (!unreachable) return { status: 200, body: { status: "ok", version } };
    return {
      status: 503,
      body: { status: "degraded", version, docker: "unreachable", error: unreachable.message },
    };
  }

  private async pingOnce(): Promise<DockerUnavailableError | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${PING_TIMEOUT_MS / 1000}s`)),
        PING_TIMEOUT_MS,
      );
      timer.unref();
    });
    try {
      await Promise.race([this.ping(), timeout]);
      return undefined;
    } catch (error) {
      if (error instanceof DockerUnavailableError) return error;
      const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
      return new DockerUnavailableError(`Docker is not reachable (${reason}).`);
    } finally {
      clearTimeout(timer);
    }
  }
}
