import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ClientGoneError } from "./errors.js";

/*
 * A request as Node's HTTP server handed it over, read without the Fetch
 * API's objects. @hono/node-server builds a WHATWG `Request` (headers, an
 * abort signal, the body as a web stream over the socket) the first time
 * anything reads a header, the body or the signal: a third of the server's
 * own CPU time per execution went to building and reading those. The
 * helpers here read the same things from Node's `IncomingMessage` and
 * `ServerResponse`, with the same results, and fall back to the Fetch API's
 * objects where there are none (a request handed to `app.request()`).
 */

/** What @hono/node-server passes as a request's `c.env`. */
interface NodeBindings {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}

function nodeBindings(c: Context): NodeBindings | undefined {
  const env = c.env as Partial<NodeBindings> | undefined;
  return env?.incoming && env.outgoing ? (env as NodeBindings) : undefined;
}

/**
 * A request header as `Headers.get` reads it: every field of that name
 * (any case) joined with ", ". Node's own `headers` object keeps only the
 * first Authorization field, where the Fetch API's joins them, so a request
 * with two keys would be read differently; the raw fields are read instead.
 */
export function requestHeader(c: Context, name: string): string | undefined {
  const node = nodeBindings(c);
  if (!node) return c.req.header(name);
  const raw = node.incoming.rawHeaders;
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]?.length === name.length && raw[i]?.toLowerCase() === name) {
      const field = raw[i + 1] ?? "";
      value = value === undefined ? field : `${value}, ${field}`;
    }
  }
  return value;
}

/** Requests whose body `limitBody` checked by its length and left on the socket for `bodyText`. */
const bodiesOnSocket = new WeakMap<Request, IncomingMessage>();

/**
 * Hono's `bodyLimit`, without the web stream on Node: a body with a
 * Content-Length (and no Transfer-Encoding) is refused by that length, as
 * `bodyLimit` refuses it, and Node's parser never reads more than it says,
 * so it is then read from the socket (`bodyText`). A chunked body, and any
 * body outside Node, goes through `bodyLimit`, which counts it as it comes.
 */
export function limitBody(
  maxSize: number,
  onError: (c: Context) => Response | Promise<Response>,
): MiddlewareHandler {
  const counted = bodyLimit({ maxSize, onError });
  return async (c, next) => {
    const node = nodeBindings(c);
    if (!node) return counted(c, next);
    const { method, headers } = node.incoming;
    // A GET or HEAD has no body for the app (@hono/node-server gives it none).
    if (method === "GET" || method === "HEAD") return next();
    const length = headers["content-length"];
    if (length === undefined || headers["transfer-encoding"] !== undefined) return counted(c, next);
    if (Number.parseInt(length, 10) > maxSize) return onError(c);
    bodiesOnSocket.set(c.req.raw, node.incoming);
    return next();
  };
}

/**
 * The request's body as text, decoded as UTF-8 with a leading byte order
 * mark dropped (as `Request.text()` decodes it). A client that goes away
 * before sending all of it ends the read with ClientGoneError.
 */
export function bodyText(c: Context): Promise<string> {
  const incoming = bodiesOnSocket.get(c.req.raw);
  if (!incoming) return c.req.text();
  bodiesOnSocket.delete(c.req.raw);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.once("end", () => resolve(new TextDecoder().decode(Buffer.concat(chunks))));
    incoming.once("error", () => reject(new ClientGoneError()));
    incoming.once("close", () => {
      if (!incoming.complete) reject(new ClientGoneError());
    });
  });
}

/**
 * The request's body as it comes, for a route that streams it somewhere
 * instead of reading it whole (and that `limitBody` left alone): each chunk
 * is read from the socket only when the consumer asks for the next, so a
 * slow consumer holds the client back. A client that goes away before
 * sending all of it ends the read with ClientGoneError.
 */
export async function* bodyStream(c: Context): AsyncGenerator<Uint8Array> {
  const node = nodeBindings(c);
  // A consumer that stops early (a refusal mid-body) leaves the socket open
  // for the refusal's answer; @hono/node-server then drains what is left.
  const body: AsyncIterable<Uint8Array> | null = node
    ? { [Symbol.asyncIterator]: () => node.incoming.iterator({ destroyOnReturn: false }) }
    : c.req.raw.body;
  if (!body) return;
  try {
    yield* body;
  } catch {
    throw new ClientGoneError();
  }
  if (node && !node.incoming.complete) throw new ClientGoneError();
}

const signals = new WeakMap<ServerResponse, AbortSignal>();

/**
 * A signal that fires when the client goes away before its answer has been
 * written: the connection closed with the answer unfinished, or the request
 * failed on the socket (@hono/node-server's rule for `Request.signal`).
 */
export function clientGoneSignal(c: Context): AbortSignal {
  const node = nodeBindings(c);
  if (!node) return c.req.raw.signal;
  const { incoming, outgoing } = node;
  let signal = signals.get(outgoing);
  if (signal) return signal;
  const abort = new AbortController();
  signal = abort.signal;
  signals.set(outgoing, signal);
  const gone = () => incoming.errored !== null || !outgoing.writableFinished;
  if (outgoing.closed) {
    if (gone()) abort.abort(new ClientGoneError());
  } else
    outgoing.once("close", () => {
      if (gone()) abort.abort(new ClientGoneError());
    });
  return signal;
}
