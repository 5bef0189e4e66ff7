import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { Socket } from "node:net";
import type { Duplex, Readable } from "node:stream";
import type { EngineEndpoint } from "./endpoint.js";
import { apiError, hasStatus } from "./errors.js";

/**
 * The Engine API version every request names: v1.41 is Docker 20.10, the
 * oldest engine isol8 is tested on, and has every field isol8 sends and
 * reads. An engine that no longer serves it (Docker 29 serves 1.44 and up)
 * says so, and the client then uses the oldest version that engine serves.
 */
export const API_VERSION = "1.41";

/** A query value: lists repeat the parameter, objects travel as JSON (Docker's filters, labels, build args). */
type QueryValue = string | number | boolean | string[] | Record<string, unknown> | undefined;

interface EngineRequest {
  method: "GET" | "POST" | "DELETE";
  /** The path after the version prefix, e.g. `/containers/json`. */
  path: string;
  query?: Record<string, QueryValue> | undefined;
  /** A JSON body, or a tar archive streamed as the body. */
  body?: unknown;
  /** Set when `body` is a stream (a build context or a root filesystem). */
  stream?: NodeJS.ReadableStream | undefined;
  signal?: AbortSignal | undefined;
}

/** The query string of a request, Docker's way. */
export function queryString(query: Record<string, QueryValue> = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) params.append(name, item);
    else if (typeof value === "object") params.append(name, JSON.stringify(value));
    else params.append(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** The `Minimum supported API version is 1.44` of an engine that refuses an old version. */
function minimumVersionOf(message: string): string | undefined {
  return /minimum supported API version is (\d+\.\d+)/i.exec(message)?.[1];
}

/**
 * HTTP to one Docker engine: requests with JSON or streamed bodies, and
 * hijacked connections (attach, exec) that carry a process's stdio both
 * ways. Connections to the engine are kept alive between requests.
 */
export class EngineTransport {
  private version = API_VERSION;
  private readonly agent: http.Agent;
  private readonly tls: https.AgentOptions | undefined;

  constructor(readonly endpoint: EngineEndpoint) {
    this.tls =
      endpoint.kind === "tcp" && endpoint.tls
        ? {
            ca: readFileSync(endpoint.tls.ca),
            cert: readFileSync(endpoint.tls.cert),
            key: readFileSync(endpoint.tls.key),
            // Always: see TlsFiles.
            rejectUnauthorized: true,
          }
        : undefined;
    this.agent = this.tls
      ? new https.Agent({ keepAlive: true, ...this.tls })
      : new http.Agent({ keepAlive: true });
  }

  /** Sends a request; resolves with the response once its status is a success, else rejects with a DockerApiError. */
  async send(request: EngineRequest): Promise<http.IncomingMessage> {
    try {
      return await this.sendOnce(request);
    } catch (error) {
      // An engine newer than the pinned version: once per client, and only
      // when the body can be sent again (a streamed one is gone by now).
      const minimum = hasStatus(error, 400)
        ? minimumVersionOf((error as Error).message)
        : undefined;
      if (!minimum || minimum === this.version || request.stream) throw error;
      this.version = minimum;
      return this.sendOnce(request);
    }
  }

  /** Sends a request and reads its JSON answer (undefined for an empty body). */
  async json<T>(request: EngineRequest): Promise<T> {
    const text = await readText(await this.send(request));
    return (text.trim() ? JSON.parse(text) : undefined) as T;
  }

  /**
   * Sends a request whose connection Docker then hands over to a process's
   * stdio (`Upgrade: tcp`): the returned socket writes to its stdin and reads
   * its output, multiplexed unless it has a TTY.
   */
  upgrade(request: EngineRequest): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const outgoing = this.outgoing(request, { Connection: "Upgrade", Upgrade: "tcp" }, false);
      outgoing.on("upgrade", (_response, socket: Socket, head: Buffer) => {
        // Output Docker sent with its 101 answer belongs to the stream.
        if (head.length > 0) socket.unshift(head);
        // The supervisor's frames are small: over TCP, send each at once.
        socket.setNoDelay(true);
        resolve(socket);
      });
      outgoing.on("response", (response: http.IncomingMessage) => {
        readText(response).then(
          (text) =>
            reject(
              (response.statusCode ?? 0) >= 400
                ? apiError(response.statusCode ?? 0, text, describe(request))
                : new Error(`Docker did not hand over the connection of ${describe(request)}`),
            ),
          reject,
        );
      });
      outgoing.on("error", reject);
      outgoing.end(request.body === undefined ? undefined : JSON.stringify(request.body));
    });
  }

  private sendOnce(request: EngineRequest): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const outgoing = this.outgoing(request, {}, true);
      outgoing.on("response", (response: http.IncomingMessage) => {
        const status = response.statusCode ?? 0;
        if (status < 300) return resolve(response);
        readText(response).then(
          (text) => reject(apiError(status, text, describe(request))),
          reject,
        );
      });
      outgoing.on("error", reject);
      if (request.stream) {
        request.stream.on("error", (error) => outgoing.destroy(error));
        request.stream.pipe(outgoing);
      } else outgoing.end(request.body === undefined ? undefined : JSON.stringify(request.body));
    });
  }

  private outgoing(
    request: EngineRequest,
    headers: Record<string, string>,
    pooled: boolean,
  ): http.ClientRequest {
    const endpoint = this.endpoint;
    const options: http.RequestOptions = {
      method: request.method,
      path: `/v${this.version}${request.path}${queryString(request.query)}`,
      headers: {
        ...headers,
        ...(request.stream
          ? { "Content-Type": "application/x-tar" }
          : request.body !== undefined
            ? { "Content-Type": "application/json" }
            : {}),
      },
      // A hijacked connection leaves the pool: it gets one of its own.
      agent: pooled ? this.agent : false,
      signal: request.signal,
      ...(endpoint.kind === "socket"
        ? { socketPath: endpoint.path }
        : { host: endpoint.host, port: endpoint.port }),
    };
    return this.tls ? https.request({ ...options, ...this.tls }) : http.request(options);
  }
}

function describe(request: EngineRequest): string {
  return `${request.method} ${request.path}`;
}

/**
 * The most of one answer read into memory: far above what isol8 asks for
 * (a listing of thousands of containers, a probe's logs), so that an engine
 * or a proxy sending without end fails the request instead of the process.
 */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** A response's whole body as text. */
async function readText(response: Readable): Promise<string> {
  return (await readBytes(response)).toString("utf8");
}

/** A response's whole body as bytes; rejects (and drops the connection) past `limit` bytes. */
export async function readBytes(response: Readable, limit = MAX_RESPONSE_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      response.destroy();
      throw new Error(`Docker's answer is larger than ${limit} bytes; it was not read`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
