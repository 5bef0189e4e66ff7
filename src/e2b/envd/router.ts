/**
 * envd's Connect services for every sandbox of the E2B face: one router,
 * its handlers found by path, each request run with the sandbox it was
 * admitted to (sandbox-context.ts). Connect's own handlers speak both its
 * JSON and binary encodings, unary and streaming.
 */
import { createConnectRouter, createContextValues } from "@connectrpc/connect";
import {
  universalServerRequestFromFetch,
  universalServerResponseToFetch,
} from "@connectrpc/connect/protocol";
import type { Sandbox } from "../../sandbox/sandbox.js";
import { filesystemService } from "./filesystem-service.js";
import { Filesystem } from "./gen/envd/filesystem_pb.js";
import { Process } from "./gen/envd/process_pb.js";
import { streamCounter } from "./limits.js";
import { processService } from "./process-service.js";
import { SANDBOX, USER } from "./sandbox-context.js";

/** Answers an envd RPC (`path` such as `/process.Process/Start`), or undefined for a path that is none. */
type EnvdRpc = (
  request: Request,
  path: string,
  sandbox: Sandbox,
  user: string | undefined,
) => Promise<Response> | undefined;

export function envdRpc(): EnvdRpc {
  const router = createConnectRouter();
  const streams = streamCounter();
  router.service(Process, processService(streams));
  router.service(Filesystem, filesystemService(streams));
  const handlers = new Map(router.handlers.map((handler) => [handler.requestPath, handler]));
  return (request, path, sandbox, user) => {
    const handler = handlers.get(path);
    if (!handler) return undefined;
    const universal = universalServerRequestFromFetch(request, {});
    universal.contextValues = createContextValues().set(SANDBOX, sandbox).set(USER, user);
    return handler(universal).then(universalServerResponseToFetch);
  };
}
