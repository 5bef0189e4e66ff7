import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { isLoopbackAddress, isLoopbackRequest } from "../network/loopback.js";

/** What one MCP client gets: a server with its tools, and the end of everything it made. */
export interface ClientScope {
  server: McpServer;
  close(): Promise<void>;
}

export type Log = (line: string) => void;

/**
 * Serves one client over this process's stdin and stdout until stdin ends
 * (the client went away) or `stop` resolves, then closes the client's scope.
 * Nothing but protocol messages is written to stdout.
 */
export async function serveStdio(scope: ClientScope, stop: Promise<unknown>): Promise<void> {
  const transport = new StdioServerTransport(process.stdin, process.stdout, {
    maxBufferSize: MAX_MESSAGE_BYTES,
  });
  const gone = new Promise<void>((resolve) => {
    process.stdin.once("end", resolve);
    process.stdin.once("close", resolve);
    // A client that closed its end of the pipe: writes fail with EPIPE.
    process.stdout.on("error", () => resolve());
    // The transport gave up (a malformed or oversized message).
    scope.server.server.onclose = resolve;
  });
  await scope.server.connect(transport);
  await Promise.race([gone, stop]);
  await scope.server.close().catch(() => undefined);
  await scope.close();
}

export interface HttpOptions {
  port: number;
  host: string;
  /** The bearer key every request must carry; undefined serves without authentication. */
  key: string | undefined;
  /** A client session with no request open for this long is closed (its sandboxes too). */
  idleMs: number;
  log: Log;
}

export interface HttpMcp {
  url: string;
  /** Stops listening and closes every client session and its sandboxes. */
  close(): Promise<void>;
}

interface Entry {
  transport: StreamableHTTPServerTransport;
  scope: ClientScope;
  /** Requests of this session still open (a client's GET event stream stays open while it listens). */
  active: number;
  lastSeen: number;
}

/**
 * Largest message (stdio) or request body (HTTP) accepted: a write_file of a
 * file of up to about 48 MB, base64-encoded, fits.
 */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Largest initialize request read here, before the SDK's transport takes over. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * Serves the streamable HTTP transport at `/mcp`: one MCP session (and one
 * scope) per client, ended by the client's DELETE, by `close()`, or after
 * `idleMs` without an open request. Every request needs `Authorization:
 * Bearer <key>` (401 without, 403 wrong), compared in constant time. Bound to
 * a loopback address, it also refuses a Host or Origin that is not an exact
 * loopback name or address with the listening port (DNS rebinding).
 */
export async function serveHttp(
  newScope: () => ClientScope,
  options: HttpOptions,
): Promise<HttpMcp> {
  const sessions = new Map<string, Entry>();
  const keyDigest = options.key === undefined ? undefined : digest(options.key);
  const loopback = isLoopbackAddress(options.host);
  let closing = false;

  const end = async (id: string, why: string) => {
    const entry = sessions.get(id);
    if (!entry) return;
    sessions.delete(id);
    options.log(`isol8 mcp: session ${id} ended (${why}); removing its sandboxes`);
    await entry.scope.server.close().catch(() => undefined);
    await entry.scope.close();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== "/mcp") return refuse(res, 404, "not found: the MCP endpoint is /mcp");
    if (loopback && !isLoopbackRequest(req.headers, listeningPort()))
      return refuse(res, 403, "Host or Origin is not a loopback address with this server's port");
    if (keyDigest) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
      if (!match?.[1]) {
        res.setHeader("WWW-Authenticate", "Bearer");
        return refuse(res, 401, "authorization required: send Authorization: Bearer <key>");
      }
      if (!timingSafeEqual(digest(match[1]), keyDigest)) return refuse(res, 403, "invalid key");
    }
    if (closing) return refuse(res, 503, "the server is shutting down");
    const sessionId = req.headers["mcp-session-id"];
    if (typeof sessionId === "string") {
      const entry = sessions.get(sessionId);
      if (!entry) return refuse(res, 404, "session not found; initialize a new one");
      track(entry, res);
      return entry.transport.handleRequest(req, res);
    }
    if (req.method !== "POST")
      return refuse(res, 400, "no Mcp-Session-Id: send an initialize request first");
    const body = await readJson(req).catch((error: Error) => error);
    if (body instanceof Error)
      return refuse(res, body.message.includes("too large") ? 413 : 400, body.message);
    if (!isInitializeRequest(body))
      return refuse(res, 400, "no Mcp-Session-Id: send an initialize request first");

    const scope = newScope();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      maxRequestBodySize: MAX_MESSAGE_BYTES,
      onsessioninitialized: (id) => {
        const entry: Entry = { transport, scope, active: 0, lastSeen: Date.now() };
        sessions.set(id, entry);
        track(entry, res);
        options.log(`isol8 mcp: session ${id} started`);
      },
      onsessionclosed: (id) => end(id, "closed by the client"),
    });
    transport.onclose = () => {
      if (transport.sessionId) void end(transport.sessionId, "transport closed");
    };
    await scope.server.connect(transport);
    await transport.handleRequest(req, res, body);
    if (!transport.sessionId) {
      await scope.server.close().catch(() => undefined);
      await scope.close();
    }
  };

  const listeningPort = () => (server.address() as AddressInfo).port;
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.log(`isol8 mcp: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) refuse(res, 500, "internal error");
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [id, entry] of sessions) {
        if (entry.active === 0 && now - entry.lastSeen >= options.idleMs)
          void end(id, `idle for ${Math.round(options.idleMs / 1000)} s`);
      }
    },
    Math.min(Math.max(options.idleMs / 4, 250), 30_000),
  );
  sweep.unref();

  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/mcp`,
    close: async () => {
      closing = true;
      clearInterval(sweep);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...sessions.keys()].map((id) => end(id, "server stopping")));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Counts a session's open requests; the idle clock runs from the end of the last one. */
function track(entry: Entry, res: ServerResponse): void {
  entry.active += 1;
  entry.lastSeen = Date.now();
  res.once("close", () => {
    entry.active -= 1;
    entry.lastSeen = Date.now();
  });
}

function digest(key: string): Buffer {
  return createHash("sha256").update(key).digest();
}

function refuse(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new Error(`request body too large (over ${MAX_BODY_BYTES} bytes)`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new Error("request body is not JSON");
  }
}
