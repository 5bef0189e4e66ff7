/**
 * envd's `/files` route on an isol8 sandbox: GET downloads a file as raw
 * bytes; POST writes one or several, as E2B's SDKs send them - a multipart
 * form (each part named by its filename, or the `path` query), bounded by
 * the server's maxBodyBytes, or a raw body (`application/octet-stream`,
 * gzip or not), streamed and bounded by sandboxes.maxFileBytes after
 * decompression. Answers the written entries as envd does.
 */
import { pipeline, Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import type { Context } from "hono";
import type { Sandbox } from "../../sandbox/sandbox.js";
import type { EntryInfo } from "../../sandbox/types.js";
import type { AppEnv } from "../../server/app-env.js";
import { boundedUpload, uploadTooLarge } from "../../server/bounded-upload.js";
import type { ServerContext } from "../../server/context.js";
import { HttpError } from "../../server/errors.js";
import { bodyStream } from "../../server/node-request.js";
import { E2B_BASE_PATH } from "../mount.js";
import { httpFileError } from "./file-errors.js";
import { checkUser, e2bPath, sandboxPath } from "./paths.js";

/** Whether a request is envd's streamed upload, which the server's body limit must not cut. */
export function isStreamedUpload(c: Context): boolean {
  return (
    c.req.method === "POST" &&
    c.req.path === `${E2B_BASE_PATH}/files` &&
    (c.req.header("content-type") ?? "").startsWith("application/octet-stream")
  );
}

/**
 * The unpacked bytes of a gzip'd body. A failure on either side (the client
 * gone, a corrupt stream) ends both and is thrown to the reader, never left
 * on a stream nobody listens to.
 */
function gunzipped(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const unpacked = createGunzip();
  pipeline(Readable.from(body), unpacked, () => undefined);
  return unpacked;
}

function written(entry: EntryInfo) {
  return {
    name: entry.name,
    type: entry.type === "dir" ? "dir" : "file",
    path: e2bPath(entry.path),
  };
}

export async function envdFiles(
  ctx: ServerContext,
  c: Context<AppEnv>,
  sandbox: Sandbox,
): Promise<Response> {
  checkUser(c.req.query("username"));
  const path = c.req.query("path");
  if (c.req.method === "GET") {
    if (!path) throw new HttpError(400, "path: the file to download is required");
    const stream = await sandbox.files
      .read(sandboxPath(path), { format: "stream" })
      .catch(httpFileError);
    return c.body(stream, 200, { "Content-Type": "application/octet-stream" });
  }
  if (c.req.method !== "POST") throw new HttpError(404, `envd has no route ${c.req.method} /files`);

  if (isStreamedUpload(c)) {
    if (!path) throw new HttpError(400, "path: where to write the file is required");
    const limit = ctx.config.sandboxes.maxFileBytes;
    const gzip = (c.req.header("content-encoding") ?? "").toLowerCase() === "gzip";
    const declared = Number(c.req.header("content-length"));
    if (!gzip && declared > limit) throw uploadTooLarge(limit);
    // Bounded as it comes and, gzip'd, again as it is unpacked: neither a
    // bomb nor an endless stream of empty members gets past the limit.
    const raw = boundedUpload(bodyStream(c), limit);
    const entry = await sandbox.files
      .write(sandboxPath(path), boundedUpload(gzip ? gunzipped(raw) : raw, limit))
      .catch(httpFileError);
    return c.json([written(entry)], 200);
  }

  const form = await c.req.parseBody({ all: true }).catch(() => {
    throw new HttpError(400, "body: not a multipart form of files");
  });
  const parts = [form.file ?? []].flat().filter((part): part is File => part instanceof File);
  if (parts.length === 0) throw new HttpError(400, "file: the form holds no file");
  const entries: ReturnType<typeof written>[] = [];
  for (const part of parts) {
    const target = path ?? part.name;
    if (!target) throw new HttpError(400, "file: a part without a filename, and no path");
    const entry = await sandbox.files
      .write(sandboxPath(target), new Uint8Array(await part.arrayBuffer()))
      .catch(httpFileError);
    entries.push(written(entry));
  }
  return c.json(entries, 200);
}
