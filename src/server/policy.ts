import { formatSize, parseSize } from "../config/sizes.js";
import { registryRules } from "../engine/installs.js";
import { compilePolicy, isInternalAddress } from "../network/policy.js";
import type { DockerIsol8Options, NetworkFilter } from "../types.js";
import type { ExecutionOptions, WireExecutionRequest } from "../wire/schemas.js";
import type { ServerPolicy } from "./config.js";
import { HttpError } from "./errors.js";
import { chooseSeccomp } from "./seccomp-profiles.js";

/** The option values that decide an engine, after the policy's defaults and checks. */
export type PolicyOptions = Pick<
  DockerIsol8Options,
  | "network"
  | "networkFilter"
  | "logNetwork"
  | "memoryLimit"
  | "cpuLimit"
  | "timeoutMs"
  | "pidsLimit"
  | "sandboxSize"
  | "tmpSize"
  | "readonlyRootFs"
  | "maxOutputSize"
  | "secrets"
  | "image"
  | "security"
>;

const SIZES = ["memoryLimit", "sandboxSize", "tmpSize"] as const;
const NUMBERS = ["cpuLimit", "timeoutMs", "pidsLimit", "maxOutputSize"] as const;

function refuse(message: string): never {
  throw new HttpError(403, message);
}

/**
 * Turns a client's `options` into engine options: the server's defaults
 * where the client asks for nothing, the client's values where they are
 * within the limits, and a 403 naming the option where they are not. A
 * request is never silently widened or narrowed. Three steps, in the order
 * their refusals answer: the network, the weakenings the operator allows,
 * then sizes and numbers.
 */
export function applyPolicy(
  policy: ServerPolicy,
  options: ExecutionOptions = {},
  request?: Pick<WireExecutionRequest, "runtime" | "installPackages">,
): PolicyOptions {
  return {
    ...allowedNetwork(policy, options, request),
    ...allowedWeakenings(policy, options),
    secrets: options.secrets ?? {},
    ...withinLimits(policy, options),
  };
}

/**
 * The network a request gets (see networkFor), with its filter's rules and
 * host networking held to the policy.
 */
function allowedNetwork(
  { allow }: ServerPolicy,
  options: ExecutionOptions,
  request: Pick<WireExecutionRequest, "runtime" | "installPackages"> | undefined,
): Pick<PolicyOptions, "network" | "networkFilter" | "logNetwork"> {
  const network = networkFor(options, request);
  if ((options.networkFilter || options.logNetwork) && network.network !== "filtered")
    throw new HttpError(
      400,
      'options.networkFilter, options.logNetwork: need options.network "filtered"',
    );
  if (network.networkFilter && !allow.internalAddresses) refuseInternalRules(network.networkFilter);
  if (options.network === "host" && !allow.hostNetwork)
    refuse("options.network: host networking is not allowed by this server's policy");
  return { ...network, ...(options.logNetwork ? { logNetwork: true } : {}) };
}

/** The seccomp profile, the root filesystem and the image: the full defaults unless the policy allows less. */
function allowedWeakenings(
  policy: ServerPolicy,
  options: ExecutionOptions,
): Pick<PolicyOptions, "security" | "readonlyRootFs" | "image"> {
  const { allow } = policy;
  const security = chooseSeccomp(options.security, policy.seccompProfiles);
  if (security.seccomp === "unconfined" && !allow.unconfinedSeccomp)
    refuse("options.security.seccomp: unconfined is not allowed by this server's policy");
  if (options.readonlyRootFs === false && !allow.writableRootFs)
    refuse(
      "options.readonlyRootFs: a writable root filesystem is not allowed by this server's policy",
    );
  if (options.image !== undefined && !allow.customImage)
    refuse("options.image: custom images are not allowed by this server's policy");
  return {
    readonlyRootFs: options.readonlyRootFs ?? true,
    security,
    ...(options.image !== undefined ? { image: options.image } : {}),
  };
}

/** Sizes and numbers: as asked up to the server's limits (403 above), its defaults where none is asked. */
function withinLimits(
  { defaults, limits }: ServerPolicy,
  options: ExecutionOptions,
): Pick<PolicyOptions, (typeof SIZES)[number] | (typeof NUMBERS)[number]> {
  const result: Pick<PolicyOptions, (typeof SIZES)[number] | (typeof NUMBERS)[number]> = {};
  for (const key of SIZES) {
    const asked = options[key];
    if (asked === undefined) {
      result[key] = defaults[key];
      continue;
    }
    const bytes = parseSize(asked);
    if (bytes === undefined)
      throw new HttpError(400, `options.${key}: "${asked}" is not a size such as 512m or 2g`);
    const limit = parseSize(limits[key]) ?? 0;
    if (bytes > limit)
      refuse(`options.${key}: ${asked} is above this server's limit of ${formatSize(limit)}`);
    result[key] = asked;
  }
  for (const key of NUMBERS) {
    const asked = options[key];
    // Stryker disable next-line ConditionalExpression: undefined is above no limit.
    if (asked !== undefined && asked > limits[key])
      refuse(`options.${key}: ${asked} is above this server's limit of ${limits[key]}`);
    result[key] = asked ?? defaults[key];
  }
  return result;
}

/**
 * The network a request gets: the mode it asked for, never changed; without
 * one, a request that installs packages is filtered to its runtime's registry.
 */
function networkFor(
  options: ExecutionOptions,
  request: Pick<WireExecutionRequest, "runtime" | "installPackages"> | undefined,
): Pick<PolicyOptions, "network" | "networkFilter"> {
  if (options.network !== undefined)
    return {
      network: options.network,
      ...(options.networkFilter ? { networkFilter: options.networkFilter } : {}),
    };
  if (request?.installPackages?.length && request.runtime !== "bash")
    return { network: "filtered", networkFilter: { whitelist: registryRules(request.runtime) } };
  return { network: "none" };
}

/**
 * A rule that names a loopback, private or metadata address reaches into
 * the server's own networks: as much a weakening as host networking.
 */
function refuseInternalRules(filter: NetworkFilter): void {
  let policy: ReturnType<typeof compilePolicy>;
  try {
    policy = compilePolicy(filter, "options.networkFilter");
  } catch (error) {
    throw new HttpError(400, (error as Error).message);
  }
  for (const rule of policy.allow) {
    if (rule.address !== undefined && isInternalAddress(rule.address))
      refuse(
        `options.networkFilter.whitelist: "${rule.source}" names the internal address ${rule.address}, which this server's policy does not allow`,
      );
  }
}

/**
 * Request fields the engine cannot honour yet are refused by name rather
 * than ignored, so a client never believes something happened that did not.
 */
export function assertSupportedRequest(
  request: WireExecutionRequest,
  policy: ServerPolicy,
  remoteCodeEnabled = false,
): void {
  if (request.codeUrl !== undefined && !remoteCodeEnabled)
    refuse("request.codeUrl: remote code is not enabled on this server; send the code itself");
  if (
    request.codeUrl === undefined &&
    (request.codeHash ?? request.allowInsecureCodeUrl) !== undefined
  )
    throw new HttpError(
      400,
      "request.codeHash, request.allowInsecureCodeUrl: need request.codeUrl",
    );
  // Stryker disable next-line ConditionalExpression: undefined is above no limit.
  if (request.timeoutMs !== undefined && request.timeoutMs > policy.limits.timeoutMs) {
    refuse(
      `request.timeoutMs: ${request.timeoutMs} is above this server's limit of ${policy.limits.timeoutMs}`,
    );
  }
}
