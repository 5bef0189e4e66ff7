import type { Context } from "hono";
import type { z } from "zod";
import { parseBoundedJson } from "./bounded-json.js";
import { validationError } from "./errors.js";
import { bodyText } from "./node-request.js";

/** The JSON body parsed with `schema`; 400 naming the field for anything else, or the size or depth problem. */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const text = await bodyText(c);
  const value = text.trim() === "" ? {} : parseBoundedJson(text, "body");
  return parse(schema, value);
}

/** The query string parsed with `schema`. */
export function queryOf<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  return parse(schema, c.req.query(), "query");
}

export function parse<S extends z.ZodType>(schema: S, value: unknown, root = ""): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error, root);
  return parsed.data;
}
