/**
 * The HTTP API's sandbox files (`/sandboxes/:id/files...`): queries, bodies
 * and answers as zod schemas shared by the routes (and so the OpenAPI
 * document) and RemoteSandbox. A file's content travels as raw bytes, not
 * JSON; times as ISO 8601 strings. Paths, depths and the rest are checked
 * by the library's own `sandbox.files`, which the server calls, so a
 * refusal reads the same locally and remotely.
 */
import { z } from "zod";

const pathField = z.string().meta({
  description: "absolute inside /sandbox or /tmp, or relative to /sandbox",
});

/** GET, PUT and DELETE /sandboxes/:id/files, GET .../files/info. */
export const filePathQuerySchema = z.strictObject({ path: pathField });

/** GET /sandboxes/:id/files/list. */
export const fileListQuerySchema = z.strictObject({
  path: pathField,
  depth: z.coerce.number().optional().meta({
    description: "levels of folders to list, 1 (default: the folder's own entries) to 64",
  }),
});

/** GET /sandboxes/:id/files/watch. */
export const fileWatchQuerySchema = z.strictObject({
  path: pathField,
  recursive: z.enum(["true", "false"]).optional().meta({
    description: "watch every folder below too, those made later included; false unless true",
  }),
});

/** POST /sandboxes/:id/files/dir. */
export const makeDirBodySchema = z.strictObject({ path: pathField });

/** POST /sandboxes/:id/files/rename. */
export const renameBodySchema = z.strictObject({ from: pathField, to: pathField });

/** A file's bytes, as a request or an answer body. */
export const fileBytesSchema = z.string().meta({ format: "binary", description: "raw bytes" });

export const entryInfoSchema = z
  .strictObject({
    name: z.string(),
    path: z.string(),
    type: z.enum([
      "file",
      "dir",
      "symlink",
      "fifo",
      "socket",
      "char-device",
      "block-device",
      "unknown",
    ]),
    size: z.number(),
    mode: z.number().meta({ description: "permission bits with setuid, setgid and sticky" }),
    permissions: z.string().meta({ description: "as `ls -l` shows them: `-rw-r--r--`" }),
    modifiedTime: z.string(),
    symlinkTarget: z.string().optional(),
  })
  .meta({ id: "EntryInfo" });

export const entryListSchema = z.strictObject({ entries: z.array(entryInfoSchema) });

/** POST .../files/dir: false when the folder was there already. */
export const madeDirSchema = z.strictObject({ created: z.boolean() });

/** One Server-Sent Event of a watch: a change, or why the watch ended. */
const fileWatchEventSchema = z
  .discriminatedUnion("type", [
    z.strictObject({
      type: z.enum(["create", "write", "remove", "rename", "chmod"]),
      name: z.string().meta({ description: "relative to the watched folder" }),
    }),
    z.strictObject({ type: z.literal("error"), data: z.string(), code: z.string().optional() }),
  ])
  .meta({ id: "FileWatchEvent" });

export type WireEntryInfo = z.infer<typeof entryInfoSchema>;
export type WireFileWatchEvent = z.infer<typeof fileWatchEventSchema>;
