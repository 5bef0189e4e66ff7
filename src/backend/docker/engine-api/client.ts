import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { EngineEndpoint } from "./endpoint.js";
import { type EngineTransport, readBytes } from "./transport.js";
import type {
  BuildQuery,
  ContainerCreateBody,
  ContainerInspect,
  ContainerStats,
  ContainerSummary,
  ContainerTop,
  ContainerWaitResult,
  EngineVersion,
  ExecCreateBody,
  ExecInspect,
  ImageInspect,
  ImageSummary,
  ImportQuery,
  ListFilters,
  NetworkSummary,
} from "./types.js";

/**
 * isol8's client of the Docker Engine API: exactly the calls isol8 makes,
 * over node:http to the engine DOCKER_HOST names. Errors Docker answers
 * with are DockerApiErrors carrying its status and message; an engine that
 * cannot be reached fails with the connection's own error (ENOENT,
 * ECONNREFUSED).
 */
export class DockerClient {
  constructor(private readonly transport: EngineTransport) {}

  /** Where the engine is. */
  get endpoint(): EngineEndpoint {
    return this.transport.endpoint;
  }

  /** Resolves when the engine answers. */
  async ping(): Promise<void> {
    await readBytes(await this.transport.send({ method: "GET", path: "/_ping" }));
  }

  version(): Promise<EngineVersion> {
    return this.transport.json({ method: "GET", path: "/version" });
  }

  /** Containers matching the filters; running ones only unless `all`. */
  listContainers(
    options: { all?: boolean; filters?: ListFilters } = {},
  ): Promise<ContainerSummary[]> {
    return this.transport.json({
      method: "GET",
      path: "/containers/json",
      query: { all: options.all, filters: options.filters },
    });
  }

  listImages(options: { filters?: ListFilters } = {}): Promise<ImageSummary[]> {
    return this.transport.json({
      method: "GET",
      path: "/images/json",
      query: { filters: options.filters },
    });
  }

  listNetworks(options: { filters?: ListFilters } = {}): Promise<NetworkSummary[]> {
    return this.transport.json({
      method: "GET",
      path: "/networks",
      query: { filters: options.filters },
    });
  }

  /** Creates a container (not started). */
  async createContainer(body: ContainerCreateBody): Promise<Container> {
    const created = await this.transport.json<{ Id: string }>({
      method: "POST",
      path: "/containers/create",
      body,
    });
    return new Container(this.transport, created.Id);
  }

  /** A container by id or name; nothing is asked of Docker until a method is called. */
  getContainer(id: string): Container {
    return new Container(this.transport, id);
  }

  /** An image by name, tag or id; nothing is asked of Docker until a method is called. */
  getImage(name: string): Image {
    return new Image(this.transport, name);
  }

  /**
   * Pulls an image (`debian:bookworm-slim`; no tag means `latest`, as the
   * Docker CLI has it). The answer is a progress stream (progress.ts), whose
   * messages say whether the pull failed.
   */
  pull(reference: string): Promise<IncomingMessage> {
    return this.transport.send({
      method: "POST",
      path: "/images/create",
      query: { fromImage: reference, tag: hasTagOrDigest(reference) ? undefined : "latest" },
    });
  }

  /** `docker import`: a root filesystem tar as an image. Answers with a progress stream. */
  importImage(archive: NodeJS.ReadableStream, query: ImportQuery): Promise<IncomingMessage> {
    return this.transport.send({
      method: "POST",
      path: "/images/create",
      query: { fromSrc: "-", ...query },
      stream: archive,
    });
  }

  /** `docker build` (classic builder) of a context tar. Answers with a progress stream. */
  buildImage(context: NodeJS.ReadableStream, query: BuildQuery): Promise<IncomingMessage> {
    return this.transport.send({
      method: "POST",
      path: "/build",
      query: { ...query },
      stream: context,
    });
  }
}

/** Whether an image reference names its tag or digest (a colon after the last slash is a tag, before it a registry port). */
export function hasTagOrDigest(reference: string): boolean {
  return reference.includes("@") || reference.slice(reference.lastIndexOf("/") + 1).includes(":");
}

/** One container of the engine. */
export class Container {
  constructor(
    private readonly transport: EngineTransport,
    readonly id: string,
  ) {}

  private get path(): string {
    return `/containers/${encodeURIComponent(this.id)}`;
  }

  inspect(): Promise<ContainerInspect> {
    return this.transport.json({ method: "GET", path: `${this.path}/json` });
  }

  async start(): Promise<void> {
    await this.transport.json({ method: "POST", path: `${this.path}/start` });
  }

  /** Sends a signal to its first process (default SIGKILL). */
  async kill(signal?: string): Promise<void> {
    await this.transport.json({ method: "POST", path: `${this.path}/kill`, query: { signal } });
  }

  /**
   * Waits until it has stopped (`not-running`, the default) or, with
   * `removed`, is gone; the signal aborts the wait.
   */
  wait(
    options: { condition?: "not-running" | "next-exit" | "removed"; signal?: AbortSignal } = {},
  ): Promise<ContainerWaitResult> {
    return this.transport.json({
      method: "POST",
      path: `${this.path}/wait`,
      query: { condition: options.condition },
      signal: options.signal,
    });
  }

  /** What it has logged so far, multiplexed (stdio.ts) as it has no TTY. */
  async logs(options: { stdout?: boolean; stderr?: boolean } = {}): Promise<Buffer> {
    const response = await this.transport.send({
      method: "GET",
      path: `${this.path}/logs`,
      query: { stdout: options.stdout, stderr: options.stderr, follow: false },
    });
    return readBytes(response);
  }

  async remove(options: { force?: boolean } = {}): Promise<void> {
    await this.transport.json({
      method: "DELETE",
      path: this.path,
      query: { force: options.force },
    });
  }

  /** One reading of its CPU, memory and network figures, without waiting for a second. */
  stats(): Promise<ContainerStats> {
    return this.transport.json({
      method: "GET",
      path: `${this.path}/stats`,
      query: { stream: false, "one-shot": true },
    });
  }

  top(): Promise<ContainerTop> {
    return this.transport.json({ method: "GET", path: `${this.path}/top` });
  }

  /**
   * Attaches to its stdio, stdin included: the socket carries what is written
   * to the first process's stdin and its multiplexed output (stdio.ts). Ending
   * the socket's writing side closes that stdin.
   */
  attach(): Promise<Duplex> {
    return this.transport.upgrade({
      method: "POST",
      path: `${this.path}/attach`,
      query: { stream: true, stdin: true, stdout: true, stderr: true },
    });
  }

  /** Creates a process to run inside it (`docker exec`), not yet started. */
  async exec(body: ExecCreateBody): Promise<Exec> {
    const created = await this.transport.json<{ Id: string }>({
      method: "POST",
      path: `${this.path}/exec`,
      body,
    });
    return new Exec(this.transport, created.Id);
  }
}

/** One `docker exec` process. */
class Exec {
  constructor(
    private readonly transport: EngineTransport,
    readonly id: string,
  ) {}

  /** Starts it, attached: the socket is its stdin (if it was created with AttachStdin) and its multiplexed output. */
  start(): Promise<Duplex> {
    return this.transport.upgrade({
      method: "POST",
      path: `/exec/${encodeURIComponent(this.id)}/start`,
      body: { Detach: false, Tty: false },
    });
  }

  inspect(): Promise<ExecInspect> {
    return this.transport.json({
      method: "GET",
      path: `/exec/${encodeURIComponent(this.id)}/json`,
    });
  }
}

/** A name as one path segment, keeping the `:` and `@` of a tag or digest readable (both are allowed in a segment). */
function pathSegment(name: string): string {
  return encodeURIComponent(name).replace(/%3A/gi, ":").replace(/%40/gi, "@");
}

/** One image of the engine. */
class Image {
  constructor(
    private readonly transport: EngineTransport,
    readonly name: string,
  ) {}

  /**
   * One path segment whatever the name holds: a `/` of a repository, or a
   * `?`, `#` or `..` in a name from a user, cannot reach another route or
   * add a query parameter (the engine decodes it back into the name).
   */
  private get path(): string {
    return `/images/${pathSegment(this.name)}`;
  }

  inspect(): Promise<ImageInspect> {
    return this.transport.json({ method: "GET", path: `${this.path}/json` });
  }

  /** Removes it; with `force` also while a stopped container uses it or other tags name it. */
  async remove(options: { force?: boolean } = {}): Promise<void> {
    await this.transport.json({
      method: "DELETE",
      path: this.path,
      query: { force: options.force },
    });
  }
}
