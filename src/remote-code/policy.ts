import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { rootCertificates } from "node:tls";
import { Isol8Error } from "../errors.js";
import {
  compilePolicy,
  type Decision,
  decideAddress,
  decideDestination,
  type EgressPolicy,
  widenPolicy,
} from "../network/policy.js";
import { REMOTE_CODE_DEFAULTS, type RemoteCodeConfig } from "./config.js";

/**
 * Why fetching remote code failed. `refused`: the configuration or policy says
 * no (disabled, scheme, host, address, size, missing hash); `invalid`: the
 * request itself is wrong (not a URL, bad shorthand, hash mismatch, not UTF-8
 * text); `fetch`: the fetch did not succeed (DNS, connection, TLS, timeout,
 * HTTP status, redirects). The message is one line and names the flag or field.
 */
type RemoteCodeErrorKind = "refused" | "invalid" | "fetch";

export class RemoteCodeError extends Isol8Error {
  override readonly name = "RemoteCodeError";
  override readonly code = "REMOTE_CODE";

  constructor(
    readonly kind: RemoteCodeErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** A `remoteCode` configuration with its defaults filled in and its rules compiled. */
export interface RemoteCodePolicy {
  enabled: boolean;
  allowedSchemes: ReadonlySet<"http" | "https">;
  /** allowedHosts as allow rules (`.*` when none is configured), blockedHosts as deny rules. */
  hosts: EgressPolicy;
  /** No allowedHosts configured: any host, IP-address URLs included (their address is still checked). */
  anyHost: boolean;
  maxCodeSize: number;
  fetchTimeoutMs: number;
  requireHash: boolean;
  /** The CAs a fetch trusts; undefined: Node's defaults (which include NODE_EXTRA_CA_CERTS). */
  ca?: string[];
}

/**
 * Resolves a `remoteCode` configuration. CA files are read now, so an
 * unreadable one is reported where the configuration is loaded.
 */
export function remoteCodePolicy(
  config: RemoteCodeConfig = {},
  field = "remoteCode",
): RemoteCodePolicy {
  const anyHost = config.allowedHosts === undefined;
  let hosts: EgressPolicy;
  try {
    hosts = compilePolicy(
      { whitelist: config.allowedHosts ?? [".*"], blacklist: config.blockedHosts ?? [] },
      field,
    );
  } catch (error) {
    const message = (error as Error).message
      .replace(`${field}.whitelist`, `${field}.allowedHosts`)
      .replace(`${field}.blacklist`, `${field}.blockedHosts`);
    throw new RemoteCodeError("invalid", message);
  }
  const extra = (config.caCertificates ?? []).map((path, i) =>
    readPem(path, `${field}.caCertificates[${i}]`),
  );
  return {
    enabled: config.enabled ?? REMOTE_CODE_DEFAULTS.enabled,
    allowedSchemes: new Set(config.allowedSchemes ?? REMOTE_CODE_DEFAULTS.allowedSchemes),
    hosts,
    anyHost,
    maxCodeSize: config.maxCodeSize ?? REMOTE_CODE_DEFAULTS.maxCodeSize,
    fetchTimeoutMs: config.fetchTimeoutMs ?? REMOTE_CODE_DEFAULTS.fetchTimeoutMs,
    requireHash: config.requireHash ?? REMOTE_CODE_DEFAULTS.requireHash,
    ...(extra.length ? { ca: [...rootCertificates, ...nodeExtraCaCerts(), ...extra] } : {}),
  };
}

function readPem(path: string, field: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new RemoteCodeError(
      "invalid",
      `${field}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
}

/**
 * Giving TLS its own `ca` list replaces Node's default store, which holds
 * NODE_EXTRA_CA_CERTS: so that file is added back, as Node would. Node only
 * warns when it cannot read the file, and so does this (by ignoring it).
 */
function nodeExtraCaCerts(): string[] {
  const path = process.env.NODE_EXTRA_CA_CERTS;
  if (!path) return [];
  try {
    return [readFileSync(path, "utf8")];
  } catch {
    return [];
  }
}

/** The same rules, speaking of one port: remote code may come from any port. */
function forPort(policy: RemoteCodePolicy, port: number): EgressPolicy {
  return { ...policy.hosts, ports: new Set([port]) };
}

/**
 * Decides on a URL's host by name, before any lookup: the egress filter's
 * rules (whole-name patterns, deny wins). With no allowedHosts an IP-address
 * URL is allowed by name too; `decideResolved` still refuses an internal one.
 */
export function decideHost(policy: RemoteCodePolicy, host: string, port: number): Decision {
  const rules = forPort(policy, port);
  if (policy.anyHost && isIP(host)) {
    // Widened by the address itself only for this by-name check, so deny rules still apply.
    return decideDestination(widenPolicy(rules, [escapeRegExp(host)]), host, port);
  }
  return decideDestination(rules, host, port);
}

/**
 * Decides on an address a host resolved to (or an IP-address host):
 * loopback, private, link-local, metadata and this machine's own addresses
 * are refused unless an allowedHosts entry is that very address.
 */
export function decideResolved(policy: RemoteCodePolicy, address: string, port: number): Decision {
  return decideAddress(forPort(policy, port), address, port);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
