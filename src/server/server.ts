import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { createAdaptorServer } from "@hono/node-server";
import type { Hono } from "hono";
import type { DockerIsol8 } from "../engine/docker-isol8.js";
import type { DockerIsol8Options } from "../types.js";
import { createApp } from "./app.js";
import type { AppEnv } from "./app-env.js";
import { resolveServerConfig, type ServerConfigInput } from "./config.js";
import { createContext, type ServerContext } from "./context.js";
import type { ServerLog } from "./logger.js";
import { attachWebSocket } from "./ws.js";

/** How to make an isol8 server. */
export interface Isol8ServerOptions {
  /** The master key (`-k/--key`, `ISOL8_API_KEY`). Required unless `insecureNoAuth`. */
  masterKey?: string;
  /** Serve without any authentication. Only for a trusted machine. */
  insecureNoAuth?: boolean;
  /** Partial configuration; everything else has a default. */
  config?: ServerConfigInput;
  version: string;
  /** Where log lines go (stderr by default), in the config's `logFormat`. */
  log?: ServerLog;
  /** Debug entries too. */
  debug?: boolean;
  createEngine?: (options: DockerIsol8Options) => DockerIsol8;
}

/** A server, made but not yet listening. */
export interface Isol8Server {
  app: Hono<AppEnv>;
  context: ServerContext;
  /** Listens on `port` (0: any free port); rejects with the socket error (EADDRINUSE...). */
  listen(port: number, host: string): Promise<{ url: string; port: number; address: string }>;
  /**
   * Graceful stop: refuses new requests (503), lets running executions
   * finish for up to `graceMs` (the config's shutdownGraceMs by default),
   * then stops every session and engine, removing their containers.
   */
  close(graceMs?: number): Promise<void>;
}

export async function createIsol8Server(options: Isol8ServerOptions): Promise<Isol8Server> {
  if (!options.masterKey && !options.insecureNoAuth) {
    throw new Error(
      "a master key is required: pass -k/--key or set ISOL8_API_KEY (or --insecure-no-auth on a trusted machine)",
    );
  }
  const config = resolveServerConfig(options.config);
  const context = await createContext({
    config,
    version: options.version,
    masterKey: options.insecureNoAuth && !options.masterKey ? undefined : options.masterKey,
    log: options.log,
    debug: options.debug,
    createEngine: options.createEngine,
  });
  const app = createApp(context);
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  const sockets = attachWebSocket(server, context);
  let closing: Promise<void> | undefined;

  return {
    app,
    context,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        server.once("error", onError);
        server.listen(port, host, () => {
          server.off("error", onError);
          const address = server.address() as AddressInfo;
          const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
          resolve({
            url: `http://${shown}:${address.port}`,
            port: address.port,
            address: address.address,
          });
        });
      });
    },
    close(graceMs = config.shutdownGraceMs) {
      closing ??= (async () => {
        context.state.draining = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const deadline = Date.now() + graceMs;
        await context.slots.idle(graceMs);
        // A run's slot is free once its last event is handed over, a moment
        // before the response's last bytes leave: let connections finish
        // (closing each as it goes idle) before cutting the rest.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        await Promise.race([closed, sleep(Math.min(2000, Math.max(0, deadline - Date.now())))]);
        clearInterval(sweep);
        sockets.close();
        server.closeAllConnections();
        await context.close();
        await closed;
      })();
      return closing;
    },
  };
}
