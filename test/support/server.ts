import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { RemoteIsol8, type RemoteIsol8Connection } from "../../src/client/remote-isol8.js";
import type { ServerConfigInput } from "../../src/server/config.js";
import { createIsol8Server, type Isol8Server } from "../../src/server/server.js";

export const MASTER = "test-master-key-0123456789";

export interface TestServer {
  server: Isol8Server;
  url: string;
  /** Headers with `Authorization: Bearer <key>` (the master key by default) and JSON. */
  headers(key?: string): Record<string, string>;
  remote(key?: string, connection?: Partial<RemoteIsol8Connection>): RemoteIsol8;
  /** Makes an API key with the master key; without a tenant, the key is a tenant of its own. */
  createKey(
    tenantId: string | undefined,
    ttlMs?: number,
  ): Promise<{ id: string; key: string; tenantId: string }>;
  /** fetch against the server, over its loopback socket. */
  call(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  /**
   * The same request handed to the Hono app in this process, with no socket:
   * for what the app decides on its own (auth, validation, policy, keys,
   * documents), where the connection is not what a test is about.
   */
  request(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
}

/**
 * A real server on 127.0.0.1, on a port of its own, with its key database in
 * a temporary folder. Closed (its engines stopped, containers removed) when
 * the test file ends.
 */
export async function startServer(
  config: ServerConfigInput = {},
  log: (line: string) => void = () => undefined,
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "isol8-server-test-"));
  const server = await createIsol8Server({
    masterKey: MASTER,
    version: "0.0.0-test",
    // Small pools: the machine has two cores and the suite starts many servers.
    config: {
      dbPath: join(dir, "server.db"),
      heartbeatMs: 200,
      engines: { poolSize: { clean: 1, dirty: 1 } },
      ...config,
    },
    log,
  });
  const { url } = await server.listen(0, "127.0.0.1");
  after(async () => {
    await server.close(2000);
    rmSync(dir, { recursive: true, force: true });
  });
  const headers = (key: string = MASTER) => ({
    Authorization: `Bearer ${key}`,
    "Content-Type": "application/json",
  });
  /** The request's init with its key (the master key unless given; null for none) as headers. */
  const withKey = ({ key, ...rest }: RequestInit & { key?: string | null }): RequestInit => {
    const base: Record<string, string> =
      key === null ? { "Content-Type": "application/json" } : headers(key);
    return { ...rest, headers: { ...base, ...(rest.headers as Record<string, string>) } };
  };
  const request = async (path: string, init: RequestInit & { key?: string | null } = {}) =>
    server.app.request(path, withKey(init));
  const call = (path: string, init: RequestInit & { key?: string | null } = {}) => {
    const rest = withKey(init);
    return fetch(`${url}${path}`, rest).catch((error: unknown) => {
      // fetch says only "fetch failed"; the socket-level cause is what tells
      // a reset connection from a refused one when a run fails.
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(
        `${rest.method ?? "GET"} ${path}: fetch failed: ${cause?.code ?? ""} ${cause?.message ?? error}`,
        { cause: error },
      );
    });
  };
  return {
    server,
    url,
    headers,
    call,
    request,
    remote: (key = MASTER, connection = {}) =>
      new RemoteIsol8({ host: url, apiKey: key, ...connection }),
    async createKey(tenantId, ttlMs) {
      const response = await call("/auth/keys", {
        method: "POST",
        body: JSON.stringify({ name: `key of ${tenantId ?? "its own"}`, tenantId, ttlMs }),
      });
      if (response.status !== 201)
        throw new Error(`createKey: ${response.status} ${await response.text()}`);
      return (await response.json()) as { id: string; key: string; tenantId: string };
    },
  };
}

/** POST body for /execute. */
export function run(code: string, extra: Record<string, unknown> = {}): string {
  const { options, sessionId, ...request } = extra;
  return JSON.stringify({ request: { runtime: "python", code, ...request }, options, sessionId });
}
