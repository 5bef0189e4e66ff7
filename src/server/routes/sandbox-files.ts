import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { Sandbox } from "../../sandbox/sandbox.js";
import type { EntryInfo, FilesystemEvent } from "../../sandbox/types.js";
import { okSchema } from "../../wire/responses.js";
import {
  entryInfoSchema,
  entryListSchema,
  fileBytesSchema,
  fileListQuerySchema,
  filePathQuerySchema,
  fileWatchQuerySchema,
  madeDirSchema,
  makeDirBodySchema,
  renameBodySchema,
  type WireEntryInfo,
  type WireFileWatchEvent,
} from "../../wire/sandbox-files.js";
import { sandboxParamsSchema } from "../../wire/sandboxes.js";
import type { AppEnv } from "../app-env.js";
import { boundedUpload, uploadTooLarge } from "../bounded-upload.js";
import type { ServerContext } from "../context.js";
import { errorEvent, HttpError, toHttpError } from "../errors.js";
import { bodyStream, requestHeader } from "../node-request.js";
import { AUTHED, failures, jsonAnswer, jsonRequest, mount, routeGroup } from "../openapi.js";
import { heartbeat, ReaderBacklog, writeEvent } from "../reader-backlog.js";

/**
 * How far a client reading a watch's events may fall behind before its
 * stream is ended with an error (it can watch again): the server never
 * holds more than this per reader.
 */
const WATCH_BACKLOG_BYTES = 1024 * 1024;

const TAGS = ["sandboxes"];

const FILES_PATH = /^\/sandboxes\/[^/]+\/files$/;

/**
 * Whether a request is an upload of a sandbox file, whose body the app's
 * `maxBodyBytes` does not bound: the route streams it into the sandbox
 * under `sandboxes.maxFileBytes` instead.
 */
export function isFileUpload(c: Context): boolean {
  return c.req.method === "PUT" && FILES_PATH.test(c.req.path);
}

function wireEntry(entry: EntryInfo): WireEntryInfo {
  return { ...entry, modifiedTime: entry.modifiedTime.toISOString() };
}

const bytesContent = { "application/octet-stream": { schema: fileBytesSchema } };

const readFile = createRoute({
  method: "get",
  path: "/sandboxes/{id}/files",
  operationId: "readSandboxFile",
  tags: TAGS,
  summary: "A file's bytes, streamed as the client reads them",
  request: { params: sandboxParamsSchema, query: filePathQuerySchema },
  responses: {
    200: { description: "the file's content", content: bytesContent },
    ...failures(400, 404, 409, ...AUTHED),
  },
});

const writeFile = createRoute({
  method: "put",
  path: "/sandboxes/{id}/files",
  operationId: "writeSandboxFile",
  tags: TAGS,
  summary: "Write a file from the raw body, making its folders and replacing what it held",
  description:
    "The body is streamed into the sandbox as it comes, up to the server's sandboxes.maxFileBytes (1 GiB unless configured), not maxBodyBytes; past it, 413. A body that breaks off leaves the file with what came.",
  request: {
    params: sandboxParamsSchema,
    query: filePathQuerySchema,
    body: { required: true, content: bytesContent },
  },
  responses: {
    200: jsonAnswer("the written file", entryInfoSchema),
    ...failures(400, 404, 409, 413, ...AUTHED),
  },
});

const removeFile = createRoute({
  method: "delete",
  path: "/sandboxes/{id}/files",
  operationId: "removeSandboxFile",
  tags: TAGS,
  summary: "Remove a file, a symlink (never its target), or a folder with everything in it",
  request: { params: sandboxParamsSchema, query: filePathQuerySchema },
  responses: { 200: jsonAnswer("it is gone", okSchema), ...failures(400, 404, 409, ...AUTHED) },
});

const listFiles = createRoute({
  method: "get",
  path: "/sandboxes/{id}/files/list",
  operationId: "listSandboxFiles",
  tags: TAGS,
  summary: "The entries of a folder, depth levels of folders down",
  request: { params: sandboxParamsSchema, query: fileListQuerySchema },
  responses: {
    200: jsonAnswer("its entries", entryListSchema),
    ...failures(400, 404, 409, ...AUTHED),
  },
});

const fileInfo = createRoute({
  method: "get",
  path: "/sandboxes/{id}/files/info",
  operationId: "sandboxFileInfo",
  tags: TAGS,
  summary: "What is at a path; a symlink is reported as itself",
  request: { params: sandboxParamsSchema, query: filePathQuerySchema },
  responses: {
    200: jsonAnswer("its entry", entryInfoSchema),
    ...failures(400, 404, 409, ...AUTHED),
  },
});

const makeDir = createRoute({
  method: "post",
  path: "/sandboxes/{id}/files/dir",
  operationId: "makeSandboxDir",
  tags: TAGS,
  summary: "Make a folder and the folders above it",
  request: { params: sandboxParamsSchema, body: jsonRequest(makeDirBodySchema) },
  responses: {
    200: jsonAnswer("whether it was made (false: it was there)", madeDirSchema),
    ...failures(400, 404, 409, 413, ...AUTHED),
  },
});

const renameFile = createRoute({
  method: "post",
  path: "/sandboxes/{id}/files/rename",
  operationId: "renameSandboxFile",
  tags: TAGS,
  summary: "Move a file or folder within its place (/sandbox or /tmp), replacing a file at `to`",
  request: { params: sandboxParamsSchema, body: jsonRequest(renameBodySchema) },
  responses: {
    200: jsonAnswer("its new entry", entryInfoSchema),
    ...failures(400, 404, 409, 413, ...AUTHED),
  },
});

const watchDir = createRoute({
  method: "get",
  path: "/sandboxes/{id}/files/watch",
  operationId: "watchSandboxDir",
  tags: TAGS,
  summary: "A folder's changes as Server-Sent Events, until the client leaves",
  description:
    "Answers once the watch has begun. Each event is `data: <FileWatchEvent JSON>`: a change, in the order they happened; an `error` event ends the stream when the watch ends otherwise (the folder was removed, events were lost, the sandbox ended, or this reader fell behind).",
  request: { params: sandboxParamsSchema, query: fileWatchQuerySchema },
  responses: {
    200: {
      description: "the event stream",
      content: {
        "text/event-stream": {
          schema: z.string().meta({
            description: "events of `data: <FileWatchEvent JSON>` and a blank line",
          }),
        },
      },
    },
    ...failures(400, 404, 409, ...AUTHED),
  },
});

/**
 * A long-lived sandbox's files (`sandbox.files`) for the caller's tenant:
 * read and written as raw bytes streamed with back-pressure both ways,
 * listed, moved, removed and watched as an event stream. Every check is
 * the library's, so a refusal reads as it does locally.
 */
export function sandboxFileRoutes(ctx: ServerContext) {
  const app = routeGroup();
  const sandboxOf = (c: Context<AppEnv>, id: string): Sandbox =>
    ctx.sandboxes.get(c.get("principal").tenantId, id);

  mount(app, readFile, async (c) => {
    const sandbox = sandboxOf(c, c.req.valid("param").id);
    const stream = await sandbox.files.read(c.req.valid("query").path, { format: "stream" });
    return c.body(stream, 200, { "Content-Type": "application/octet-stream" });
  });

  mount(app, writeFile, async (c) => {
    const sandbox = sandboxOf(c, c.req.valid("param").id);
    const limit = ctx.config.sandboxes.maxFileBytes;
    const declared = requestHeader(c, "content-length");
    if (declared !== undefined && Number(declared) > limit) throw uploadTooLarge(limit);
    const entry = await sandbox.files.write(
      c.req.valid("query").path,
      boundedUpload(bodyStream(c), limit),
    );
    return c.json(wireEntry(entry), 200);
  });

  mount(app, removeFile, async (c) => {
    await sandboxOf(c, c.req.valid("param").id).files.remove(c.req.valid("query").path);
    return c.json({ ok: true } as const, 200);
  });

  mount(app, listFiles, async (c) => {
    const { path, depth } = c.req.valid("query");
    const entries = await sandboxOf(c, c.req.valid("param").id).files.list(
      path,
      depth === undefined ? {} : { depth },
    );
    return c.json({ entries: entries.map(wireEntry) }, 200);
  });

  mount(app, fileInfo, async (c) => {
    const sandbox = sandboxOf(c, c.req.valid("param").id);
    return c.json(wireEntry(await sandbox.files.getInfo(c.req.valid("query").path)), 200);
  });

  mount(app, makeDir, async (c) => {
    const sandbox = sandboxOf(c, c.req.valid("param").id);
    return c.json({ created: await sandbox.files.makeDir(c.req.valid("json").path) }, 200);
  });

  mount(app, renameFile, async (c) => {
    const { from, to } = c.req.valid("json");
    const entry = await sandboxOf(c, c.req.valid("param").id).files.rename(from, to);
    return c.json(wireEntry(entry), 200);
  });

  mount(app, watchDir, async (c) => {
    const sandbox = sandboxOf(c, c.req.valid("param").id);
    const { path, recursive } = c.req.valid("query");
    const backlog = new ReaderBacklog<FilesystemEvent>(WATCH_BACKLOG_BYTES);
    let ended: Error | undefined;
    // Begun before the answer, so a refusal is the answer's status and every
    // change after the client has its answer is in the stream.
    const watch = await sandbox.files.watchDir(
      path,
      (event) => backlog.push(event, event.name.length),
      {
        recursive: recursive === "true",
        onExit: (error) => {
          ended = error;
          backlog.finish();
        },
      },
    );
    return streamSSE(c, async (stream) => {
      stream.onAbort(() => {
        void watch.stop();
        backlog.finish();
      });
      const stopBeating = heartbeat(stream, ctx.config.heartbeatMs);
      try {
        // The answer's head goes out with this, so the client knows the watch has begun.
        await stream.write(": watching\n\n");
        for (let event = await backlog.next(); event; event = await backlog.next()) {
          if (stream.aborted) return;
          const change: WireFileWatchEvent = { type: event.type, name: event.name };
          await writeEvent(stream, change);
        }
        if (stream.aborted) return;
        if (backlog.behind) {
          const refusal = new HttpError(
            409,
            `this reader fell more than ${WATCH_BACKLOG_BYTES} bytes of events behind the watch; watch again`,
          );
          await writeEvent(stream, errorEvent(refusal));
        } else if (ended) {
          await writeEvent(stream, errorEvent(toHttpError(ended)));
        }
      } catch (error) {
        await writeEvent(stream, errorEvent(toHttpError(error))).catch(() => undefined);
      } finally {
        stopBeating();
        await watch.stop();
      }
    });
  });

  return app;
}
