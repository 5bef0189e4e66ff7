import { InvalidOptionError } from "../engine/errors.js";
import { validateRequest } from "../engine/request.js";
import { SecretSet } from "../output/secret-masker.js";
import { fetchCode } from "../remote-code/fetch-code.js";
import { RemoteCodeError, type RemoteCodePolicy } from "../remote-code/policy.js";
import { urlExtension } from "../remote-code/url.js";
import { runtimeAdapter } from "../runtimes/index.js";
import type { DockerIsol8Options, ExecutionRequest } from "../types.js";
import type { ExecuteBody, ExecutionOptions, WireExecutionRequest } from "../wire/schemas.js";
import type { Principal } from "./auth/authenticator.js";
import type { ServerConfig } from "./config.js";
import { HttpError } from "./errors.js";
import { applyPolicy, assertSupportedRequest, type PolicyOptions } from "./policy.js";
import type { SessionManager } from "./sessions.js";

/*
 * Admission: every check that can refuse an execution before it runs, each
 * called once, from `admit` below, in the order their refusals answer:
 *
 * 1. The body's shape. The route parsed it with the wire schema
 *    (`executeBodySchema`, src/wire/schemas.ts): 400 naming the field.
 * 2. The operator's policy over the client's options (`applyPolicy`, pure):
 *    a. the network: the mode asked for, or for an install its runtime's
 *       registry hosts; a filter's rules, none naming an internal address
 *       unless allowed; host networking only where allowed;
 *    b. weakenings: the seccomp profile (a registered name, never a path),
 *       unconfined seccomp, a writable root filesystem, a custom image;
 *    c. sizes and numbers within the server's limits, its defaults where
 *       none is asked.
 * 3. The request's own fields the server limits (`assertSupportedRequest`):
 *    `codeUrl` only where remote code is enabled, `codeHash` and
 *    `allowInsecureCodeUrl` only with it, `timeoutMs` within the limit.
 * 4. Remote code, fetched under the server's `remoteCode` policy: after every
 *    check that needs no network, and before a slot is taken, so a slow code
 *    host holds none.
 * 5. The engine's request, under the engine's own rules (`validateRequest`).
 * 6. The engine's options: the policy's values and the server's pool settings.
 * 7. A code context's call: its session must exist.
 *
 * What then remains is a slot (429 when full) and an engine: Executions.start.
 */

/** An execution the server agreed to run. */
interface Admitted {
  /** The engine's request: the wire fields it knows, with fetched code in place of `codeUrl`. */
  request: ExecutionRequest;
  /** The options of the engine that runs it (a warm shared one, or the session's). */
  options: DockerIsol8Options;
  /** The option secrets, to mask what the audit log keeps of the request. */
  secrets: SecretSet;
}

/** What admission reads of the server around it. */
interface AdmissionDeps {
  config: ServerConfig;
  /** `request.codeUrl`'s policy, resolved from `config.remoteCode` once. */
  remoteCode: RemoteCodePolicy;
  sessions: SessionManager;
}

/**
 * Admits one execution or throws the HttpError that refuses it (400, 403,
 * 404, or 502 for a code host that failed); see the steps above.
 */
export async function admit(
  deps: AdmissionDeps,
  principal: Principal,
  body: ExecuteBody,
  abort: AbortSignal,
): Promise<Admitted> {
  const { config, remoteCode } = deps;
  const asksNothing = body.options === undefined && !body.request.installPackages?.length;
  const policyOptions = asksNothing
    ? undefined
    : applyPolicy(config.policy, body.options, body.request);
  assertSupportedRequest(body.request, config.policy, remoteCode.enabled);
  const fetched = await fetchRemoteCode(body.request, remoteCode, abort);
  const request = engineRequest(body.request, fetched);
  const options = policyOptions ? engineOptions(config, policyOptions) : defaultOptions(config);
  if (request.contextId !== undefined) {
    // A context lives in a session's engine; a call never creates either.
    if (!body.sessionId)
      throw new HttpError(400, "request.contextId: contexts live in a session; give sessionId");
    if (!deps.sessions.has(principal.tenantId, body.sessionId))
      throw new HttpError(404, `no session "${body.sessionId}"`);
  }
  return { request, options, secrets: new SecretSet(Object.values(options.secrets ?? {})) };
}

/**
 * The engine options for a session made without an execution (a context, a
 * file put first): steps 2 and 6 of admission, for the client's `options`
 * (the server's defaults when none are given).
 */
export function admitOptions(config: ServerConfig, options?: ExecutionOptions): DockerIsol8Options {
  return engineOptions(config, applyPolicy(config.policy, options));
}

/**
 * The engine options of a request that asks for no options and installs
 * nothing: the policy's defaults, which no check can refuse and which depend
 * on the configuration alone (never changed once resolved), so they are made
 * once per configuration. One object for all such requests also lets the
 * engine pool find their engine by the key it computed once (engine-pool.ts).
 */
const defaults = new WeakMap<ServerConfig, DockerIsol8Options>();

function defaultOptions(config: ServerConfig): DockerIsol8Options {
  let options = defaults.get(config);
  if (!options) {
    options = engineOptions(config, applyPolicy(config.policy));
    defaults.set(config, options);
  }
  return options;
}

/** The options of the engine that runs a request whose options passed the policy. */
function engineOptions(config: ServerConfig, options: PolicyOptions): DockerIsol8Options {
  return {
    ...options,
    poolStrategy: config.engines.poolStrategy,
    poolSize: config.engines.poolSize,
    // The server's slots are the real limit; an engine never queues behind them.
    maxConcurrent: config.maxConcurrent,
  };
}

/**
 * The code `request.codeUrl` names, fetched under the server's `remoteCode`
 * policy: refusals are 403, a wrong hash or non-text code 400, a fetch that
 * failed 502.
 */
async function fetchRemoteCode(
  wire: WireExecutionRequest,
  policy: RemoteCodePolicy,
  abort: AbortSignal,
): Promise<{ code: string; fileExtension?: string } | undefined> {
  if (wire.codeUrl === undefined) return undefined;
  try {
    const { code } = await fetchCode(wire.codeUrl, {
      policy,
      names: {
        url: "request.codeUrl",
        hash: "request.codeHash",
        insecure: "request.allowInsecureCodeUrl",
      },
      ...(wire.codeHash !== undefined ? { hash: wire.codeHash } : {}),
      allowInsecure: wire.allowInsecureCodeUrl === true,
      signal: abort,
    });
    // The URL's extension, when the runtime takes it (.cjs for node), as a file's would be kept.
    const extension = urlExtension(wire.codeUrl);
    const keep =
      wire.fileExtension === undefined &&
      runtimeAdapter(wire.runtime).extensions.includes(extension);
    return { code, ...(keep ? { fileExtension: extension } : {}) };
  } catch (error) {
    if (!(error instanceof RemoteCodeError)) throw error;
    const status = error.kind === "refused" ? 403 : error.kind === "invalid" ? 400 : 502;
    throw new HttpError(status, error.message);
  }
}

/**
 * The engine's request: the wire fields it knows, checked by the engine's own
 * rules (as 400); `fetched` is the code `codeUrl` named (the engine stays offline).
 */
function engineRequest(
  wire: WireExecutionRequest,
  fetched?: { code: string; fileExtension?: string },
): ExecutionRequest {
  const request: ExecutionRequest = {
    runtime: wire.runtime,
    code: fetched?.code ?? wire.code,
    cmd: wire.cmd,
    fileExtension: fetched?.fileExtension ?? wire.fileExtension,
    stdin: wire.stdin,
    env: wire.env,
    timeoutMs: wire.timeoutMs,
    files: wire.files,
    filesBase64: wire.filesBase64,
    workdir: wire.workdir,
    outputPaths: wire.outputPaths,
    setupScript: wire.setupScript,
    installPackages: wire.installPackages,
    contextId: wire.contextId,
  };
  for (const key of Object.keys(request) as (keyof ExecutionRequest)[])
    if (request[key] === undefined) delete request[key];
  try {
    validateRequest(request);
  } catch (error) {
    if (error instanceof InvalidOptionError) throw new HttpError(400, `request.${error.message}`);
    throw error;
  }
  return request;
}
