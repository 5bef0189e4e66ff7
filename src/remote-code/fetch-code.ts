import { createHash } from "node:crypto";
import { lookup as dnsLookup } from "node:dns/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { isInternalAddress, normalizeHost } from "../network/policy.js";
import { decideHost, decideResolved, RemoteCodeError, type RemoteCodePolicy } from "./policy.js";

/** Redirects followed before a fetch gives up. */
export const MAX_REDIRECTS = 5;

/** What the caller calls the URL, the hash and the http opt-in: flags or request fields. */
interface FetchCodeNames {
  url: string;
  hash: string;
  insecure: string;
}

/** One name resolution: every address of a host (`dns.lookup` with `all`). */
export type ResolveHost = (host: string) => Promise<readonly { address: string; family: number }[]>;

export interface FetchCodeOptions {
  policy: RemoteCodePolicy;
  /** Names used in messages; default `codeUrl`, `codeHash`, `allowInsecureCodeUrl`. */
  names?: Partial<FetchCodeNames>;
  /** The expected SHA-256 (hex) of the fetched bytes: anything else is refused. */
  hash?: string;
  /** The request's consent to plain http (which `allowedSchemes` must also list). */
  allowInsecure?: boolean;
  /** Cancels the fetch (a server's client that went away). */
  signal?: AbortSignal;
  /** Name resolution; tests substitute their own. */
  resolve?: ResolveHost;
}

interface FetchedCode {
  code: string;
  /** The URL the code finally came from, after redirects. */
  url: string;
  /** SHA-256 (hex) of the fetched bytes. */
  sha256: string;
}

const DEFAULT_NAMES: FetchCodeNames = {
  url: "codeUrl",
  hash: "codeHash",
  insecure: "allowInsecureCodeUrl",
};
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const systemResolve: ResolveHost = (host) => dnsLookup(host, { all: true, verbatim: true });

/** Where a checked request goes: the URL's host and port, and the address that was checked. */
interface Target {
  host: string;
  port: number;
  address: string;
  family: number;
}

/** Thrown inside a fetch and turned into a RemoteCodeError naming the URL. */
class Problem extends Error {
  constructor(
    readonly kind: RemoteCodeError["kind"],
    message: string,
  ) {
    super(message);
  }
}

/**
 * Fetches code by URL under a remote-code policy, refusing rather than
 * fetching whatever the policy does not allow: the scheme, the host rules
 * and the resolved address are checked on the URL and on every redirect
 * (followed by hand, at most MAX_REDIRECTS), and the connection goes to the
 * address that was checked. The body is streamed and dropped past
 * `maxCodeSize`; the whole fetch has `fetchTimeoutMs`. Every failure is a
 * RemoteCodeError with a one-line message naming `names.url`.
 */
export async function fetchCode(url: string, options: FetchCodeOptions): Promise<FetchedCode> {
  const names = { ...DEFAULT_NAMES, ...options.names };
  const { policy } = options;
  const fail = (kind: RemoteCodeError["kind"], detail: string) =>
    new RemoteCodeError(kind, `${names.url}: ${detail}`);
  if (!policy.enabled) throw fail("refused", "remote code is not enabled (remoteCode.enabled)");
  const expected = options.hash?.trim().toLowerCase();
  if (expected !== undefined && !/^[0-9a-f]{64}$/.test(expected))
    throw new RemoteCodeError(
      "invalid",
      `${names.hash}: ${JSON.stringify(options.hash)} is not a SHA-256 digest (64 hex digits)`,
    );
  if (policy.requireHash && expected === undefined)
    throw fail(
      "refused",
      `remoteCode.requireHash is set: give the code's SHA-256 with ${names.hash}`,
    );
  const first = parseUrl(url, fail);

  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error("timed out"));
  }, policy.fetchTimeoutMs);
  const cancel = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) cancel();
  options.signal?.addEventListener("abort", cancel, { once: true });

  let current = first;
  const where = () =>
    current === first ? shown(first) : `${shown(first)} (redirected to ${shown(current)})`;
  try {
    const seen = new Set([first.href]);
    for (let hop = 0; ; hop++) {
      const target = await check(current, policy, names, options, controller.signal);
      const response = await get(current, target, policy, controller.signal);
      const status = response.statusCode ?? 0;
      if (REDIRECTS.has(status)) {
        response.destroy();
        const location = response.headers.location;
        if (!location) throw new Problem("fetch", `answered ${status} without a Location`);
        let next: URL;
        try {
          next = new URL(location, current);
        } catch {
          throw new Problem("fetch", `redirected to "${location}", which is not a URL`);
        }
        if (seen.has(next.href))
          throw new Problem("fetch", `redirects in a loop (back to ${shown(next)})`);
        if (hop + 1 > MAX_REDIRECTS)
          throw new Problem("fetch", `redirects more than ${MAX_REDIRECTS} times`);
        seen.add(next.href);
        current = next;
        assertFetchable(next);
        continue;
      }
      if (status !== 200) {
        response.destroy();
        throw new Problem("fetch", `answered ${status} ${response.statusMessage ?? ""}`.trim());
      }
      const bytes = await readBody(response, policy.maxCodeSize, controller.signal);
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      if (expected !== undefined && sha256 !== expected)
        throw new Problem(
          "invalid",
          `has SHA-256 ${sha256}, not the ${expected} ${names.hash} expects; refused`,
        );
      let code: string;
      try {
        code = strictUtf8.decode(bytes);
      } catch {
        throw new Problem("invalid", "is not valid UTF-8 text; refused");
      }
      return { code, url: current.href, sha256 };
    }
  } catch (error) {
    if (error instanceof RemoteCodeError) throw error;
    if (error instanceof Problem) throw fail(error.kind, `${where()} ${error.message}`);
    if (timedOut)
      throw fail(
        "fetch",
        `${where()} did not arrive within ${policy.fetchTimeoutMs} ms (remoteCode.fetchTimeoutMs)`,
      );
    if (options.signal?.aborted) throw fail("fetch", `fetching ${where()} was cancelled`);
    throw fail("fetch", `fetching ${where()} failed: ${describe(error)}`);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", cancel);
  }
}

function parseUrl(
  text: string,
  fail: (kind: RemoteCodeError["kind"], detail: string) => RemoteCodeError,
): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fail("invalid", `${JSON.stringify(text)} is not a URL`);
  }
  try {
    assertFetchable(url);
  } catch (error) {
    throw fail((error as Problem).kind, `${shown(url)} ${(error as Error).message}`);
  }
  return url;
}

/** A URL as messages show it: never with a user name or password. */
function shown(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}${url.search}`;
}

/** What no policy can allow: another scheme than http(s), credentials in the URL. */
function assertFetchable(url: URL): void {
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new Problem(
      "invalid",
      `uses the scheme ${url.protocol.slice(0, -1)}; only https and http URLs can be fetched`,
    );
  if (url.username || url.password)
    throw new Problem("invalid", "has a user name or password in it, which is not supported");
}

/**
 * Applies the policy to one URL: its scheme, its host by name, then the
 * addresses the host resolves to; the first address allowed is the one to
 * connect to. Throws a Problem saying why not.
 */
async function check(
  url: URL,
  policy: RemoteCodePolicy,
  names: FetchCodeNames,
  options: FetchCodeOptions,
  signal: AbortSignal,
): Promise<Target> {
  const scheme = url.protocol.slice(0, -1) as "http" | "https";
  if (scheme === "http" && !options.allowInsecure)
    throw new Problem(
      "refused",
      `is plain http, which needs ${names.insecure}${policy.allowedSchemes.has("http") ? "" : ' and "http" in remoteCode.allowedSchemes'}; refused`,
    );
  if (!policy.allowedSchemes.has(scheme))
    throw new Problem(
      "refused",
      `uses ${scheme}, which remoteCode.allowedSchemes leaves out; refused`,
    );
  const host = normalizeHost(url.hostname);
  if (!host) throw new Problem("invalid", "has no valid host name");
  const port = url.port ? Number(url.port) : scheme === "https" ? 443 : 80;
  const byName = decideHost(policy, host, port);
  if (!byName.allow) throw new Problem("refused", `${hostRefusal(byName.reason, host)}; refused`);

  let addresses: readonly { address: string; family: number }[];
  if (isIP(host)) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await abortable((options.resolve ?? systemResolve)(host), signal);
    } catch (error) {
      if (signal.aborted) throw error;
      throw new Problem(
        "fetch",
        `cannot be fetched: ${host} does not resolve (${describe(error)})`,
      );
    }
  }
  let refusal: string | undefined;
  for (const { address, family } of addresses) {
    const decision = decideResolved(policy, address, port);
    if (decision.allow) return { host, port, address, family };
    refusal ??= addressRefusal(decision.reason, address, host);
  }
  throw new Problem("refused", `${refusal ?? `has no address (${host})`}; refused`);
}

/** The network policy's reason for a host, in the terms of the remoteCode keys. */
function hostRefusal(reason: string, host: string): string {
  const rule = /^denied by rule "(.*)"$/.exec(reason);
  if (rule) return `is on ${host}, blocked by remoteCode.blockedHosts rule "${rule[1]}"`;
  if (reason === "not on the allow list")
    return `is on ${host}, which is not in remoteCode.allowedHosts`;
  if (isIP(host))
    return `is on the address ${host}, which no remoteCode.allowedHosts entry names (${reason})`;
  return `is on ${host}: ${reason}`;
}

function addressRefusal(reason: string, address: string, host: string): string {
  const verb = isIP(host) ? "is on" : "resolves to";
  if (isInternalAddress(address)) return `${verb} the private address ${address}`;
  const rule = /denied by rule "(.*)"$/.exec(reason);
  if (rule) return `${verb} ${address}, blocked by remoteCode.blockedHosts rule "${rule[1]}"`;
  return `${verb} ${address}: ${reason}`;
}

/** One GET to the checked address, on a fresh connection (a pooled one might lead elsewhere). */
function get(
  url: URL,
  target: Target,
  policy: RemoteCodePolicy,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  // Whatever name the request looks up, it gets the address that was checked.
  const pinned: LookupFunction = (_name, lookupOptions, callback) => {
    if (lookupOptions.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const secure = url.protocol === "https:";
  return new Promise((resolve, reject) => {
    const request = (secure ? httpsRequest : httpRequest)(
      {
        hostname: target.host,
        port: target.port,
        path: `${url.pathname}${url.search}`,
        method: "GET",
        headers: {
          host: url.host,
          accept: "*/*",
          "accept-encoding": "identity",
          "user-agent": "isol8",
        },
        lookup: pinned,
        agent: false,
        signal,
        ...(secure && policy.ca ? { ca: policy.ca } : {}),
      },
      resolve,
    );
    request.on("error", reject);
    request.end();
  });
}

/** The body, refused as soon as it is known to be larger than `limit`. */
function readBody(response: IncomingMessage, limit: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = (size?: number) => {
      response.destroy();
      const what = size === undefined ? "larger" : `${size} bytes, larger`;
      reject(
        new Problem("refused", `is ${what} than remoteCode.maxCodeSize (${limit} bytes); refused`),
      );
    };
    const declared = Number(response.headers["content-length"]);
    if (response.headers["content-length"] !== undefined && declared > limit)
      return tooLarge(declared);
    const chunks: Buffer[] = [];
    let size = 0;
    let ended = false;
    response.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge();
      else chunks.push(chunk);
    });
    response.on("end", () => {
      ended = true;
      resolve(Buffer.concat(chunks));
    });
    response.on("error", reject);
    response.on("close", () => {
      if (!ended) reject(signal.reason ?? new Error("the connection closed before the end"));
    });
    if (signal.aborted) response.destroy();
    else signal.addEventListener("abort", () => response.destroy(), { once: true });
  });
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

const TLS_TRUST = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
]);

/** A network error in one line, with its code and, for an untrusted certificate, what to do. */
function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
  const text = code && !message.includes(code) ? `${message} (${code})` : message;
  if (code && TLS_TRUST.has(code))
    return `${text}; trust its CA with remoteCode.caCertificates or NODE_EXTRA_CA_CERTS`;
  return text;
}
