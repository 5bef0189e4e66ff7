// A stand-in Docker engine: an HTTP server on a unix socket in a temporary
// folder, answering as a test says, for the tests of isol8's Docker client.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { createDockerClient } from "../../src/backend/docker/client.js";
import type { DockerClient } from "../../src/backend/docker/engine-api/client.js";

/** A request the stand-in received. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

interface StandInOptions {
  /** Called with the socket of a hijacking request (attach, exec start). */
  onUpgrade?: (seen: SeenRequest, socket: Socket) => void;
  /** Answer `/_ping` with OK itself, without recording it, so a test can show the client still works. */
  answerPing?: boolean;
}

/**
 * Starts a stand-in engine, removed when the test file ends; `handle`
 * answers each request once its body is read. Returns a client of it and
 * the requests it saw, in order.
 */
export async function startDockerStandIn(
  handle: (seen: SeenRequest, res: ServerResponse, req: IncomingMessage) => void,
  { onUpgrade, answerPing = false }: StandInOptions = {},
): Promise<{ docker: DockerClient; seen: SeenRequest[] }> {
  const dir = mkdtempSync(join(tmpdir(), "isol8-docker-stand-in-"));
  const socket = join(dir, "docker.sock");
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const one = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      if (answerPing && one.url.endsWith("/_ping")) return res.end("OK");
      seen.push(one);
      handle(one, res, req);
    });
  });
  server.on("upgrade", (req: IncomingMessage, sock: Socket) => {
    const one = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: "" };
    seen.push(one);
    sock.on("error", () => undefined);
    onUpgrade?.(one, sock);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });
  return { docker: createDockerClient({ DOCKER_HOST: `unix://${socket}` }), seen };
}

/** Answers `body` as JSON with `status`. */
export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

/** One record of Docker's multiplexed stdio (any stream number, to forge bad ones too). */
export function stdioFrame(stream: number, text: string): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(Buffer.byteLength(text), 4);
  return Buffer.concat([header, Buffer.from(text)]);
}
