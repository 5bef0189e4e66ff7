import { isIPv4 } from "node:net";

/**
 * True for an address a listener on it is reachable only from this machine:
 * `localhost`, an IPv4 address in 127.0.0.0/8 written as a plain dotted quad,
 * `::1` (bracketed or not) and `::ffff:127.x.y.z`. Anything else, including a
 * name that merely starts like one (`127.0.0.1.example.com`), is not.
 */
export function isLoopbackAddress(address: string): boolean {
  const name = address.toLowerCase();
  if (name === "localhost") return true;
  const bare = name.startsWith("[") && name.endsWith("]") ? name.slice(1, -1) : name;
  if (bare === "::1") return true;
  const v4 = bare.startsWith("::ffff:") ? bare.slice("::ffff:".length) : bare;
  return isIPv4(v4) && v4.startsWith("127.");
}

/**
 * Splits a Host header (`name:port`, `[v6]:port`, or a name alone meaning
 * port `defaultPort`) without normalizing the name, so that `127.1` or
 * `0x7f.0.0.1` stay what they are instead of becoming `127.0.0.1`.
 */
export function splitHostHeader(
  value: string,
  defaultPort = 80,
): { name: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(value);
  if (!match?.[1]) return undefined;
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  return port > 65535 ? undefined : { name: match[1], port };
}

/**
 * Whether a request's Host and Origin (when sent) both name this machine's
 * loopback by an exact name or address, on the port the server listens on.
 * A page elsewhere that got its name resolved to 127.0.0.1 (DNS rebinding)
 * sends its own name, and a page on another local port sends that port: both
 * are refused.
 */
export function isLoopbackRequest(
  headers: { host?: string | undefined; origin?: string | undefined },
  port: number,
): boolean {
  // Stryker disable next-line StringLiteral: any other text without a port is not this port either.
  const host = splitHostHeader(headers.host ?? "");
  if (!host || host.port !== port || !isLoopbackAddress(host.name)) return false;
  if (headers.origin === undefined) return true;
  const origin = /^http:\/\/(.+)$/.exec(headers.origin)?.[1];
  // Stryker disable next-line ConditionalExpression: "undefined" split as a Host is not a loopback name either.
  const named = origin === undefined ? undefined : splitHostHeader(origin);
  return named !== undefined && named.port === port && isLoopbackAddress(named.name);
}
