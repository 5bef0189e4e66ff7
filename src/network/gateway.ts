import { lookup } from "node:dns/promises";
import { mkdtempSync, rmSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { connect, isIP, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import type { NetworkLogEntry } from "../types.js";
import {
  type Decision,
  decideAddress,
  decideDestination,
  type EgressPolicy,
  normalizeHost,
} from "./policy.js";

/** What one run did through its channel. */
export interface RunNetworkRecord {
  /** The run's first entries (at most 1000). */
  entries: NetworkLogEntry[];
  /** Entries beyond that cap, counted only. */
  omitted: number;
  bytesIn: number;
  bytesOut: number;
}

/** Where a gateway's socket directory is mounted in a filtered sandbox. */
export const GATEWAY_MOUNT = "/run/isol8";
/** The port the supervisor's forwarder listens on inside the sandbox (see sandbox/egress-forwarder.c). */
const SANDBOX_PROXY_PORT = 3128;
/** The environment that points a sandbox's HTTP clients at the gateway. */
export const PROXY_ENV: Readonly<Record<string, string>> = (() => {
  const url = `http://127.0.0.1:${SANDBOX_PROXY_PORT}`;
  return {
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    http_proxy: url,
    https_proxy: url,
    // Node.js (24) leaves its fetch and http clients unproxied without this.
    NODE_USE_ENV_PROXY: "1",
  };
})();

const CONNECT_TIMEOUT_MS = 10_000;
/** Connections one sandbox may hold through its channel at once (its forwarder allows 128). */
const MAX_CONNECTIONS = 256;
/** Log entries kept per run; what goes beyond is counted, not kept. */
const MAX_LOG_ENTRIES = 1000;
/** Longest request path kept in a log entry. */
const MAX_LOGGED_PATH = 1024;
/** Request headers meant for the proxy, never passed on. */
const HOP_HEADERS = /^(proxy-\w+|connection|keep-alive|te|trailer|upgrade)$/i;

/**
 * The engine's egress gateway: the only way out of a filtered sandbox. A
 * filtered sandbox has no network interface but loopback; the supervisor
 * relays 127.0.0.1:3128 to a unix socket in a directory bind-mounted from
 * here, and on that socket this HTTP proxy applies the run's policy. Since
 * there is no route, code that ignores the proxy variables, resolves names
 * or connects to addresses itself reaches nothing.
 */
export class EgressGateway {
  private root: string | undefined;
  private readonly channels = new Set<EgressChannel>();

  /** Opens a channel (one socket, one policy, one log) for one sandbox container. */
  async open(policy: EgressPolicy): Promise<EgressChannel> {
    if (!this.root) {
      this.root = mkdtempSync(join(tmpdir(), "isol8-egress-"));
      removeAtExit(this.root);
    }
    // A random name: the sandbox sees its mount's source path in /proc/self/mountinfo.
    const dir = await mkdtemp(join(this.root, "c"));
    const channel = new EgressChannel(dir, policy, () => this.channels.delete(channel));
    try {
      // mkdtemp makes it 0700; the sandbox's forwarder (uid 101) must enter.
      await chmod(dir, 0o755);
      await channel.listen();
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    this.channels.add(channel);
    return channel;
  }

  /** Closes every channel and removes the sockets' directory. */
  async close(): Promise<void> {
    await Promise.all([...this.channels].map((c) => c.close()));
    const root = this.root;
    this.root = undefined;
    if (root) {
      liveRoots.delete(root);
      await rm(root, { recursive: true, force: true });
    }
  }
}

/** Socket directories of gateways not closed yet, removed when the process exits without stop() (as the CLI does). */
const liveRoots = new Set<string>();

function removeAtExit(root: string): void {
  if (liveRoots.size === 0 && !process.listeners("exit").includes(removeLiveRoots))
    process.on("exit", removeLiveRoots);
  liveRoots.add(root);
}

function removeLiveRoots(): void {
  for (const root of liveRoots) rmSync(root, { recursive: true, force: true });
}

/** One sandbox's way out: a proxy on a unix socket, with the policy of the current run. */
export class EgressChannel {
  /** Changed between runs (and between an install and the program). */
  policy: EgressPolicy;
  private log: NetworkLogEntry[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Duplex>();
  private closed = false;
  /** Connections that have been allowed and are not finished. */
  private open = 0;
  /** Entries past the per-run cap, counted but not kept. */
  private omitted = 0;
  /** Bytes through every connection of the run, kept in the log or not. */
  private totals = { bytesIn: 0, bytesOut: 0 };

  constructor(
    /** The host directory to bind-mount at GATEWAY_MOUNT. */
    readonly directory: string,
    policy: EgressPolicy,
    private readonly onClose: () => void,
  ) {
    this.policy = policy;
    // Whatever a sandbox sends, a handler's failure ends that connection, never the engine.
    this.server = createServer({ headersTimeout: 10_000, requestTimeout: 60_000 }, (req, res) =>
      this.forward(req, res).catch(() => res.destroy()),
    );
    this.server.maxConnections = MAX_CONNECTIONS;
    this.server.on("connect", (req: IncomingMessage, client: Duplex, head: Buffer) =>
      this.tunnel(req, client, head).catch(() => client.destroy()),
    );
    this.server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    this.server.on("clientError", (_error, socket) => socket.destroy());
  }

  /** Connections the channel has accepted and not yet closed. */
  get connectionCount(): number {
    return this.sockets.size;
  }

  async listen(): Promise<void> {
    const path = join(this.directory, "egress.sock");
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(path, () => resolve());
    });
    await chmod(path, 0o666);
  }

  /**
   * The run's record, once its connections have closed (they close when its
   * processes end; a moment's grace), and a fresh record for the next run.
   */
  async settledLog(graceMs = 250): Promise<RunNetworkRecord> {
    const deadline = Date.now() + graceMs;
    while (this.open > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.takeLog();
  }

  /** The record since the last take (what an earlier run left is not the next run's). */
  takeLog(): RunNetworkRecord {
    const record = { entries: this.log, omitted: this.omitted, ...this.totals };
    this.log = [];
    this.omitted = 0;
    this.totals = { bytesIn: 0, bytesOut: 0 };
    return record;
  }

  /**
   * Ends every connection still open. Called when a run is over: its
   * processes are gone, so whatever is open is a half-closed leftover that
   * must not hold the sandbox's connection slots into the next run.
   */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.directory, { recursive: true, force: true });
    this.onClose();
  }

  /** CONNECT host:port - a tunnel, for HTTPS; TLS passes through untouched. */
  private async tunnel(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const started = Date.now();
    const target = parseAuthority(req.url ?? "");
    const entry = this.entry(
      "CONNECT",
      target?.host ?? String(req.url),
      target?.port ?? 0,
      null,
      started,
    );
    client.on("error", () => undefined);
    if (!target) return this.refuse(client, entry, "not a host:port destination", 400);
    const address = await this.resolve(target.host, target.port);
    if (!address.allow) return this.refuse(client, entry, address.reason, 403);
    // The sandbox may have hung up during the lookup: nothing to connect for.
    if (client.destroyed) return;
    this.open++;
    const upstream = connect({
      host: address.address,
      port: target.port,
      timeout: CONNECT_TIMEOUT_MS,
    });
    let connected = false;
    upstream.once("timeout", () => upstream.destroy(new Error("connect timed out")));
    upstream.once("connect", () => {
      connected = true;
      upstream.setTimeout(0);
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.once("error", (error) => {
      if (connected) return client.destroy();
      entry.reason = `upstream: ${error.message}`;
      writeStatus(client, 502, entry.reason);
    });
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => {
      client.end();
      this.finish(entry, started, upstream.bytesWritten, upstream.bytesRead);
    });
  }

  /** A plain HTTP request in absolute form (http://host/path), forwarded as is. */
  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? "");
    } catch {
      url = undefined;
    }
    const method = req.method ?? "GET";
    if (url?.protocol !== "http:") {
      const entry = this.entry(
        method,
        url?.hostname ?? String(req.url),
        0,
        req.url ?? null,
        started,
      );
      return this.refuseResponse(
        res,
        entry,
        "only absolute http:// URLs are proxied (use CONNECT for https)",
        400,
      );
    }
    const port = url.port ? Number(url.port) : 80;
    const entry = this.entry(method, url.hostname, port, url.pathname + url.search, started);
    const address = await this.resolve(url.hostname, port);
    if (!address.allow) return this.refuseResponse(res, entry, address.reason, 403);
    if (req.destroyed || res.destroyed) return;
    this.open++;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined && !HOP_HEADERS.test(name)) headers[name] = value;
    headers.host = url.host;
    headers.connection = "close";
    const upstream = httpRequest({
      host: address.address,
      port,
      method,
      path: url.pathname + url.search,
      headers,
      setHost: false,
      agent: false,
      timeout: CONNECT_TIMEOUT_MS,
    });
    let socket: Socket | undefined;
    let answered = false;
    upstream.on("socket", (s) => {
      socket = s;
    });
    upstream.on("timeout", () => upstream.destroy(new Error("upstream timed out")));
    upstream.on("response", (answer) => {
      answered = true;
      upstream.setTimeout(0);
      const status = answer.statusCode ?? 0;
      try {
        if (status < 100 || status > 599) throw new Error(`bad status ${status}`);
        res.writeHead(status, answer.statusMessage, answer.rawHeaders);
      } catch (error) {
        entry.reason = `upstream: ${(error as Error).message}`;
        upstream.destroy();
        if (!res.headersSent) writeResponse(res, 502, entry.reason);
        else res.destroy();
        return;
      }
      answer.pipe(res);
    });
    upstream.on("error", (error) => {
      entry.reason = `upstream: ${error.message}`;
      if (!res.headersSent) writeResponse(res, 502, entry.reason);
      else res.destroy();
    });
    res.on("close", () => {
      upstream.destroy();
      // A request that never reached its upstream sent nothing, whatever was queued.
      const sent = answered ? (socket?.bytesWritten ?? 0) : 0;
      this.finish(entry, started, sent, socket?.bytesRead ?? 0);
    });
    req.pipe(upstream);
  }

  /** Applies the policy to a destination and picks the address to connect to. */
  private async resolve(
    rawHost: string,
    port: number,
  ): Promise<{ allow: true; address: string } | { allow: false; reason: string }> {
    const host = normalizeHost(rawHost);
    if (!host) return { allow: false, reason: "not a valid host name" };
    const policy = this.policy;
    const byName = decideDestination(policy, host, port);
    if (!byName.allow) return byName;
    if (isIP(host)) return { allow: true, address: host };
    let addresses: { address: string }[];
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch (error) {
      return {
        allow: false,
        reason: `cannot resolve ${host} (${(error as NodeJS.ErrnoException).code ?? "error"})`,
      };
    }
    // The address checked is the address connected to: a second lookup could answer otherwise.
    let refusal: Decision = { allow: false, reason: `${host} has no address` };
    for (const { address } of addresses) {
      const decision = decideAddress(policy, address, port);
      if (decision.allow) return { allow: true, address };
      refusal = decision;
    }
    return refusal;
  }

  private entry(
    method: string,
    host: string,
    port: number,
    path: string | null,
    started: number,
  ): NetworkLogEntry {
    const entry: NetworkLogEntry = {
      timestamp: new Date(started).toISOString(),
      method: method.slice(0, 16),
      host: (normalizeHost(host) ?? host).slice(0, 253),
      port,
      path: path === null ? null : path.slice(0, MAX_LOGGED_PATH),
      action: "ALLOW",
      durationMs: 0,
      bytesOut: 0,
      bytesIn: 0,
    };
    if (this.log.length < MAX_LOG_ENTRIES) this.log.push(entry);
    else this.omitted++;
    return entry;
  }

  private finish(entry: NetworkLogEntry, started: number, bytesOut: number, bytesIn: number): void {
    this.open--;
    this.totals.bytesOut += bytesOut;
    this.totals.bytesIn += bytesIn;
    entry.durationMs = Date.now() - started;
    entry.bytesOut = bytesOut;
    entry.bytesIn = bytesIn;
  }

  private refuse(client: Duplex, entry: NetworkLogEntry, reason: string, status: number): void {
    entry.action = "BLOCK";
    entry.reason = reason;
    writeStatus(client, status, reason);
  }

  private refuseResponse(
    res: ServerResponse,
    entry: NetworkLogEntry,
    reason: string,
    status: number,
  ): void {
    entry.action = "BLOCK";
    entry.reason = reason;
    writeResponse(res, status, reason);
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  502: "Bad Gateway",
};

/** Answers a CONNECT on the raw socket, then closes it. */
function writeStatus(client: Duplex, status: number, reason: string): void {
  const body = `isol8 egress gateway: ${reason}\n`;
  client.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function writeResponse(res: ServerResponse, status: number, reason: string): void {
  res.writeHead(status, { "content-type": "text/plain", connection: "close" });
  res.end(`isol8 egress gateway: ${reason}\n`);
}

/** `host:port` or `[v6]:port` of a CONNECT request. */
function parseAuthority(text: string): { host: string; port: number } | undefined {
  const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1] as string, port };
}
