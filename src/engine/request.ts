import { runtimeAdapter } from "../runtimes/index.js";
import { packageSpecProblem } from "../runtimes/package-specs.js";
import type { Runtime } from "../runtimes/runtime.js";
import { isRuntime, notARuntime } from "../runtimes/runtime.js";
import { sandboxPlace } from "../sandbox-layout.js";
import type { ExecutionRequest } from "../types.js";
import { assertEnvName, envSizeProblem, InvalidOptionError, MAX_ARG_BYTES } from "./options.js";

/** Variables a request may add: the supervisor starts a program with at most 1024, the engine's few included. */
const MAX_REQUEST_ENV = 1000;

/** Largest program or stdin accepted (bytes); bigger ones are refused with a clear error. */
export const MAX_CODE_BYTES = 16 * 1024 * 1024;
const MAX_STDIN_BYTES = 64 * 1024 * 1024;
/** Most files (`files` and `filesBase64` together) and their total bytes a request may place. */
export const MAX_FILES = 4000;
export const MAX_FILES_BYTES = 64 * 1024 * 1024;
/** Most `outputPaths` a request may name (their bytes share `maxOutputSize`). */
const MAX_OUTPUT_PATHS = 256;
/** Bad request; the message names the field and the problem. */
export class InvalidRequestError extends InvalidOptionError {
  override readonly name: string = "InvalidRequestError";
  override readonly code: string = "INVALID_REQUEST";
}

function fail(message: string): never {
  throw new InvalidRequestError(message);
}

/** Checks a request before any container is made; throws InvalidRequestError. */
export function validateRequest(request: ExecutionRequest): void {
  if (typeof request !== "object" || request === null) fail("request: must be an object");
  if (typeof request.runtime !== "string" || !isRuntime(request.runtime)) {
    fail(notARuntime("runtime", String(request.runtime)));
  }
  const hasCode = typeof request.code === "string" && request.code.trim() !== "";
  const hasCmd = typeof request.cmd === "string" && request.cmd.trim() !== "";
  if (hasCode === hasCmd) fail("code, cmd: give exactly one of them, not blank");
  const source = (hasCode ? request.code : request.cmd) as string;
  if (Buffer.byteLength(source) > MAX_CODE_BYTES) {
    fail(
      `${hasCode ? "code" : "cmd"}: ${Buffer.byteLength(source)} bytes is larger than the limit of ${MAX_CODE_BYTES} bytes`,
    );
  }
  if (request.stdin !== undefined) {
    if (typeof request.stdin !== "string") fail("stdin: must be a string");
    if (Buffer.byteLength(request.stdin) > MAX_STDIN_BYTES)
      fail(`stdin: larger than the limit of ${MAX_STDIN_BYTES} bytes`);
  }
  if (request.fileExtension !== undefined) {
    const allowed = runtimeAdapter(request.runtime).extensions;
    if (!allowed.includes(request.fileExtension)) {
      fail(
        `fileExtension: "${request.fileExtension}" is not one of ${allowed.join(", ")} for ${request.runtime}`,
      );
    }
  }
  if (request.env !== undefined) {
    if (typeof request.env !== "object" || request.env === null)
      fail("env: must be an object of strings");
    for (const [name, value] of Object.entries(request.env)) {
      assertEnvName("env", name);
      if (typeof value !== "string") fail(`env.${name}: must be a string`);
    }
    const count = Object.keys(request.env).length;
    // The supervisor starts a program with at most 1024 variables, the engine's own among them.
    if (count > MAX_REQUEST_ENV)
      fail(`env: ${count} variables is more than the limit of ${MAX_REQUEST_ENV}`);
    const problem = envSizeProblem("env", request.env);
    if (problem) fail(problem);
  }
  if (hasCmd && Buffer.byteLength(source) > MAX_ARG_BYTES)
    fail(
      `cmd: ${Buffer.byteLength(source)} bytes is larger than the limit of ${MAX_ARG_BYTES} bytes (one argument of bash); put a longer script in code with runtime bash`,
    );
  validateFiles(request);
  if (request.workdir !== undefined) workdirPath(request.workdir);
  if (
    request.setupScript !== undefined &&
    (typeof request.setupScript !== "string" || request.setupScript.trim() === "")
  ) {
    fail("setupScript: must be a non-blank string of bash");
  }
  if (request.setupScript !== undefined && Buffer.byteLength(request.setupScript) > MAX_ARG_BYTES)
    fail(
      `setupScript: ${Buffer.byteLength(request.setupScript)} bytes is larger than the limit of ${MAX_ARG_BYTES} bytes (one argument of bash)`,
    );
  if (request.outputPaths !== undefined) {
    if (!Array.isArray(request.outputPaths)) fail("outputPaths: must be an array of paths");
    if (request.outputPaths.length > MAX_OUTPUT_PATHS)
      fail(
        `outputPaths: ${request.outputPaths.length} paths is more than the limit of ${MAX_OUTPUT_PATHS}`,
      );
    for (const path of request.outputPaths) inSandbox("outputPaths", path);
  }
  if (request.installPackages !== undefined)
    validatePackages(request.runtime, request.installPackages);
  if (request.timeoutMs !== undefined) {
    const t = request.timeoutMs;
    if (typeof t !== "number" || !Number.isInteger(t) || t <= 0)
      fail(`timeoutMs: ${String(t)} is not a positive whole number`);
  }
}

/** Standard base64 with padding (checked with a length test and one character class: linear on large files). */
function isBase64(text: string): boolean {
  return text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);
}

/** `files` (text) and `filesBase64` (any bytes): paths inside /sandbox, none in both, within the limits. */
function validateFiles(request: ExecutionRequest): void {
  const seen = new Set<string>();
  let bytes = 0;
  for (const field of ["files", "filesBase64"] as const) {
    const files = request[field];
    if (files === undefined) continue;
    if (typeof files !== "object" || files === null)
      fail(`${field}: must be an object of path -> ${field === "files" ? "text" : "base64"}`);
    for (const [path, content] of Object.entries(files)) {
      const normalized = inSandbox(field, path);
      if (typeof content !== "string") fail(`${field}["${path}"]: must be a string`);
      if (field === "filesBase64" && !isBase64(content)) fail(`filesBase64["${path}"]: not base64`);
      if (seen.has(normalized)) fail(`filesBase64["${path}"]: also given in files`);
      seen.add(normalized);
      bytes +=
        field === "files" ? Buffer.byteLength(content) : Math.floor((content.length * 3) / 4);
    }
  }
  if (seen.size > MAX_FILES)
    fail(`files: ${seen.size} files is more than the limit of ${MAX_FILES}`);
  if (bytes > MAX_FILES_BYTES)
    fail(`files: ${bytes} bytes is larger than the limit of ${MAX_FILES_BYTES} bytes`);
}

/** The working directory a request asks for, normalized: /sandbox or a path inside it. */
export function workdirPath(workdir: unknown): string {
  if (typeof workdir === "string" && workdir.includes("\0"))
    fail(`workdir: "${workdir}" must be an absolute path inside /sandbox`);
  const place = sandboxPlace(workdir);
  if (!place.inside) fail(`workdir: "${String(workdir)}" ${place.problem}`);
  // Stryker disable next-line Regex: normalize leaves at most one trailing slash.
  return place.path.replace(/(.)\/+$/, "$1");
}

/** A request path, normalized: absolute and naming something inside /sandbox, not /sandbox itself. */
function inSandbox(field: string, path: unknown): string {
  const place = sandboxPlace(path);
  if (!place.inside) fail(`${field}: "${String(path)}" ${place.problem}`);
  if (place.isSandboxDir) fail(`${field}: "${path}" is outside /sandbox`);
  return place.path;
}

/** Checks `installPackages` of a request (field names in messages are the request's). */
function validatePackages(runtime: Runtime, packages: unknown): void {
  if (!Array.isArray(packages))
    throw new InvalidRequestError("installPackages: must be an array of package names");
  // Only here: bash has no run-time installer (Debian packages are baked into images).
  if (packages.length > 0 && runtime === "bash")
    throw new InvalidRequestError(
      "installPackages: bash has no package installer at run time; bake Debian packages with `isol8 setup --bash PKG` or `isol8 build`",
    );
  for (const [i, spec] of packages.entries()) {
    const problem =
      typeof spec === "string" ? packageSpecProblem(runtime, spec) : "must be a string";
    if (problem)
      throw new InvalidRequestError(
        `installPackages[${i}]: ${JSON.stringify(spec)} is not a package name (${problem})`,
      );
  }
}
