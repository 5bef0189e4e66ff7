import { BlockList, isIP } from "node:net";
import { networkInterfaces } from "node:os";
import { domainToASCII, domainToUnicode } from "node:url";
import { InvalidOptionError } from "../engine/errors.js";
import type { NetworkFilter } from "../types.js";

/** Ports a filtered sandbox may reach when neither a rule nor the filter names others. */
export const DEFAULT_PORTS: readonly number[] = [80, 443];

/** One allow or deny rule: a whole-name pattern, maybe bound to one port. */
interface Rule {
  source: string;
  pattern: RegExp;
  /** Set when the rule ends in `:PORT`: it then speaks of that port only. */
  port?: number;
  /** Set when the rule is a plain IP address: the one way to name a private address. */
  address?: string;
}

/** A compiled NetworkFilter: what the egress gateway decides with. */
export interface EgressPolicy {
  readonly allow: readonly Rule[];
  readonly deny: readonly Rule[];
  readonly ports: ReadonlySet<number>;
}

/** The answer for one destination. */
export type Decision = { allow: true } | { allow: false; reason: string };

const ALLOWED: Decision = { allow: true };
const PORT_SUFFIX = /^(.+):(\d{1,5})$/;
/** `[v6]:PORT` (brackets possibly escaped, as a regex would have them). */
const IPV6_PORT = /^\\?\[(.+?)\\?\]:(\d{1,5})$/;
/** Unbounded quantifiers a rule may have: matching stays at most quadratic in the name's length. */
const MAX_REPEATS = 2;
/** Longest host name DNS allows; longer names are refused before any pattern runs. */
const MAX_HOST_LENGTH = 253;

/**
 * Compiles allow/deny patterns. A pattern must match the whole host name
 * (it is anchored), case does not matter, and `NAME:PORT` limits a rule to one
 * port. Bad patterns are refused with the field and the reason.
 */
export function compilePolicy(filter: NetworkFilter = {}, field = "networkFilter"): EgressPolicy {
  const rules = (list: string[] | undefined, key: string) =>
    (list ?? []).map((source, i) => compileRule(source, `${field}.${key}[${i}]`));
  const ports = filter.ports ?? DEFAULT_PORTS;
  for (const [i, port] of ports.entries()) {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new InvalidOptionError(`${field}.ports[${i}]: ${String(port)} is not a port (1-65535)`);
  }
  return {
    allow: rules(filter.whitelist, "whitelist"),
    deny: rules(filter.blacklist, "blacklist"),
    ports: new Set(ports),
  };
}

/** A policy that admits the given rules on top of `base` (the registry hosts of an install). */
export function widenPolicy(base: EgressPolicy, extraAllow: readonly string[]): EgressPolicy {
  return {
    ...base,
    allow: [...base.allow, ...extraAllow.map((s, i) => compileRule(s, `registry[${i}]`))],
  };
}

function compileRule(source: string, field: string): Rule {
  if (typeof source !== "string" || source.trim() === "")
    throw new InvalidOptionError(`${field}: a rule must be a non-empty pattern`);
  let text = source.trim();
  let port: number | undefined;
  const v6 = IPV6_PORT.exec(text);
  const suffix = v6 ?? PORT_SUFFIX.exec(text);
  // "::1" ends in ":1" but is an address, not a name with a port.
  if (suffix && (v6 || isIP(literalText(text)) !== 6)) {
    port = Number(suffix[2]);
    if (port < 1 || port > 65535)
      throw new InvalidOptionError(`${field}: port ${suffix[2]} is not a port (1-65535)`);
    text = suffix[1] as string;
  }
  let pattern: RegExp;
  try {
    // Compiled alone first: "a)|(.*" would otherwise close the anchoring group early.
    new RegExp(text);
    pattern = new RegExp(`^(?:${text})$`, "i");
  } catch (error) {
    throw new InvalidOptionError(
      `${field}: "${source}" is not a valid regular expression (${(error as Error).message})`,
    );
  }
  if (repeatCount(text) > MAX_REPEATS)
    throw new InvalidOptionError(
      `${field}: "${source}" has more than ${MAX_REPEATS} repeats (*, +, {n,}); each one multiplies matching time, so write the name out (e.g. "(.+\\.)?example\\.com")`,
    );
  if (hasNestedRepetition(text))
    throw new InvalidOptionError(
      `${field}: "${source}" repeats a group that itself repeats or alternates (e.g. "(a+)*"), which can take exponential time; write it without the outer repetition (e.g. "(.+\\.)?example\\.com")`,
    );
  const literal = literalText(text);
  const address = isIP(literal) ? canonicalAddress(literal) : undefined;
  return {
    source,
    pattern,
    ...(port !== undefined ? { port } : {}),
    ...(address ? { address } : {}),
  };
}

/**
 * True when a group containing a quantifier or an alternation is itself
 * repeated without bound (`*`, `+`, `{n,}`, `{n,m}` with m > 1): the shapes
 * that make backtracking exponential. A group made optional with `?` is fine.
 */
export function hasNestedRepetition(pattern: string): boolean {
  const groups: { repeats: boolean }[] = [];
  for (const i of syntaxPositions(pattern)) {
    const c = pattern[i];
    if (c === "(") {
      // Stryker disable next-line ObjectLiteral: a group without the flag reads as not repeating, as false does.
      groups.push({ repeats: false });
      continue;
    }
    const inner = groups.at(-1);
    if (c === "|" && inner) inner.repeats = true;
    else if (c === ")") {
      const group = groups.pop();
      if (group?.repeats && unboundedQuantifierAt(pattern, i + 1)) return true;
      // A group that repeats inside makes its enclosing group repeat, too.
      if (group?.repeats) {
        const outer = groups.at(-1);
        if (outer) outer.repeats = true;
      }
    } else if (inner && unboundedQuantifierAt(pattern, i)) inner.repeats = true;
  }
  return false;
}

/**
 * How many unbounded quantifiers a pattern has. Each one multiplies the
 * ways a failing match can be tried (`a*a*a*b` is cubic in the name's
 * length), so a rule may have at most MAX_REPEATS.
 */
export function repeatCount(pattern: string): number {
  let count = 0;
  for (const i of syntaxPositions(pattern)) if (unboundedQuantifierAt(pattern, i)) count++;
  return count;
}

/** Positions of a pattern's syntax: escaped characters and character classes are skipped whole. */
function* syntaxPositions(pattern: string): Generator<number> {
  // Stryker disable next-line EqualityOperator: the position past the end holds no character, so no syntax.
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (c === "[") {
      // Stryker disable next-line EqualityOperator: an unclosed class ends at the end either way.
      for (i++; i < pattern.length && pattern[i] !== "]"; i++) if (pattern[i] === "\\") i++;
      continue;
    }
    yield i;
  }
}

/** Whether an unbounded (or more-than-once) quantifier starts at `i`. */
function unboundedQuantifierAt(pattern: string, i: number): boolean {
  const c = pattern[i];
  if (c === "*" || c === "+") return true;
  // Stryker disable next-line ConditionalExpression: a shortcut; the bound's expression below matches only at a "{".
  if (c !== "{") return false;
  const bound = /^\{(\d*)(,(\d*))?\}/.exec(pattern.slice(i));
  if (!bound) return false;
  if (bound[2] === undefined) return Number(bound[1]) > 1;
  return bound[3] === "" || Number(bound[3]) > 1;
}

/** `10\.0\.0\.1` -> `10.0.0.1`: what a rule says when read as a plain string. */
function literalText(text: string): string {
  return text.replace(/\\(.)/g, "$1");
}

/**
 * The form host names are matched in: lower case, no trailing dot, IDNA
 * (punycode) ASCII, IPv4 numbers in dotted form, IPv6 without brackets.
 * Undefined for something that is not a host name at all.
 */
export function normalizeHost(host: string): string | undefined {
  let name = host.trim();
  if (name.startsWith("[") && name.endsWith("]")) name = name.slice(1, -1);
  // Zone ids ("fe80::1%eth0") name an interface of this machine: never a destination.
  if (name.includes("%") && isIP(name.split("%")[0] as string) === 6) return undefined;
  if (isIP(name) === 6) return canonicalAddress(name);
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (name.endsWith(".")) return undefined;
  // IDNA gives "" for an empty name, as for one it refuses.
  const ascii = domainToASCII(name);
  if (ascii === "" || ascii.length > MAX_HOST_LENGTH) return undefined;
  if (ascii.split(".").some((label) => label.length > 63)) return undefined;
  return ascii;
}

function canonicalAddress(address: string): string {
  if (isIP(address) !== 6) return address;
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

function matches(rule: Rule, host: string, port: number): boolean {
  if (rule.port !== undefined && rule.port !== port) return false;
  if (rule.pattern.test(host)) return true;
  // A rule may be written in Unicode; the name arrives as punycode.
  const unicode = domainToUnicode(host);
  // Stryker disable next-line ConditionalExpression: a shortcut; the same name tried again gives the same answer.
  return unicode !== host && rule.pattern.test(unicode);
}

/**
 * Decides on a destination by its name and port, before any DNS lookup:
 * deny wins, then the allow list, then the port. An IP-literal destination
 * passes only when an allow rule is that very address.
 */
export function decideDestination(policy: EgressPolicy, host: string, port: number): Decision {
  const denied = policy.deny.find((rule) => matches(rule, host, port));
  if (denied) return { allow: false, reason: `denied by rule "${denied.source}"` };
  if (isIP(host)) {
    const named = policy.allow.some(
      (rule) => rule.address === host && (rule.port === undefined || rule.port === port),
    );
    if (!named)
      return {
        allow: false,
        reason: "IP-address destinations need an allow rule naming the address",
      };
    return portAllowed(policy, host, port);
  }
  if (!policy.allow.some((rule) => matches(rule, host, port)))
    return { allow: false, reason: "not on the allow list" };
  return portAllowed(policy, host, port);
}

function portAllowed(policy: EgressPolicy, host: string, port: number): Decision {
  if (policy.ports.has(port)) return ALLOWED;
  const byRule = policy.allow.some((rule) => rule.port === port && matches(rule, host, port));
  if (byRule || policy.allow.some((r) => r.port === port && r.address === host)) return ALLOWED;
  return { allow: false, reason: `port ${port} is not allowed` };
}

/**
 * Decides on an address a name resolved to. Addresses that lead back into
 * the machine or its networks (loopback, private, link-local and metadata,
 * this host's own) are refused unless an allow rule is that address.
 */
export function decideAddress(policy: EgressPolicy, address: string, port: number): Decision {
  const canonical = canonicalAddress(address);
  // An IPv4 address may arrive dressed as IPv6 (::ffff:a.b.c.d, 64:ff9b::/96): rules see both forms.
  const forms = [canonical, embeddedIPv4(canonical)].filter((f): f is string => f !== undefined);
  const denied = policy.deny.find((rule) => forms.some((form) => form === rule.address));
  if (denied)
    return { allow: false, reason: `address ${canonical} denied by rule "${denied.source}"` };
  if (!isInternalAddress(canonical)) return ALLOWED;
  const named = policy.allow.some(
    (rule) =>
      forms.some((form) => form === rule.address) &&
      (rule.port === undefined || rule.port === port),
  );
  return named
    ? ALLOWED
    : { allow: false, reason: `resolves to the internal address ${canonical}` };
}

const INTERNAL = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 3],
] as const)
  INTERNAL.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::", 96], // unspecified, loopback and IPv4-compatible
  ["64:ff9b:1::", 48], // local-use NAT64
  ["2002::", 16], // 6to4, which carries an IPv4 address
  ["fec0::", 10], // site-local
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const)
  INTERNAL.addSubnet(net, bits, "ipv6");

/** True for addresses that lead back into this machine or a private network. */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  // IPv4 carried in IPv6 (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96) is judged as IPv4.
  const embedded = embeddedIPv4(address);
  if (embedded) return isInternalAddress(embedded);
  if (INTERNAL.check(address, family === 4 ? "ipv4" : "ipv6")) return true;
  return hostAddresses().has(canonicalAddress(address));
}

/**
 * The IPv4 address an IPv4-mapped (::ffff:0:0/96) or NAT64 (64:ff9b::/96)
 * address carries, judged on all 128 bits: written as text these take many
 * forms (uncompressed, a dotted tail, a high group of zero that compression
 * drops, as in 64:ff9b::1 for 0.0.0.1).
 */
function embeddedIPv4(address: string): string | undefined {
  const groups = ipv6Groups(address);
  if (groups === undefined) return undefined;
  const prefix = groups.slice(0, 6).join(":");
  if (prefix !== "0:0:0:0:0:ffff" && prefix !== "64:ff9b:0:0:0:0") return undefined;
  const [high, low] = groups.slice(6).map((g) => Number.parseInt(g, 16)) as [number, number];
  return [high >> 8, high & 255, low >> 8, low & 255].join(".");
}

/** The eight groups of an IPv6 address, in lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] | undefined {
  if (isIP(address) !== 6) return undefined;
  // The URL parser writes the tail in hex and compresses, so only "::" is left to expand.
  const [head, tail] = canonicalAddress(address).split("::") as [string, string?];
  const front = head === "" ? [] : head.split(":");
  if (tail === undefined) return front;
  // Stryker disable next-line ConditionalExpression,StringLiteral,ArrayDeclaration: only an address ending in "::" has an empty tail; its last group is zero, and an empty or stray last group reads as zero too (NaN in the bit operations of embeddedIPv4).
  const back = tail === "" ? [] : tail.split(":");
  return [...front, ...Array<string>(8 - front.length - back.length).fill("0"), ...back];
}

/** This machine's own addresses (every interface), which a sandbox must not reach. */
function hostAddresses(): Set<string> {
  const addresses = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    // Stryker disable next-line ArrayDeclaration: the type allows a missing list; networkInterfaces() never gives one.
    for (const entry of list ?? [])
      addresses.add(canonicalAddress(entry.address.split("%")[0] as string));
  }
  return addresses;
}
