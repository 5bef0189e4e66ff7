import { posix } from "node:path";
import { runtimeAdapter } from "../runtimes/index.js";
import type { Runtime } from "../runtimes/runtime.js";
import { isRuntime } from "../runtimes/runtime.js";
import type { ExecutionRequest } from "../types.js";
import { assertEnvName, InvalidOptionError } from "./options.js";

/** Largest program or stdin accepted (bytes); bigger ones are refused with a clear error. */
export const MAX_CODE_BYTES = 16 * 1024 * 1024;
export const MAX_STDIN_BYTES = 64 * 1024 * 1024;

/** Bad request; the message names the field and the problem. */
export class InvalidRequestError extends InvalidOptionError {
  override readonly name: string = "InvalidRequestError";
}

function fail(message: string): never {
  throw new InvalidRequestError(message);
}

/** Checks a request before any container is made; throws InvalidRequestError. */
export function validateRequest(request: ExecutionRequest): void {
  if (typeof request !== "object" || request === null) fail("request: must be an object");
  if (typeof request.runtime !== "string" || !isRuntime(request.runtime)) {
    fail(`runtime: "${String(request.runtime)}" is not one of python, node, bun, deno, bash`);
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
  }
  if (request.files !== undefined) {
    if (typeof request.files !== "object" || request.files === null)
      fail("files: must be an object of path -> text");
    for (const [path, content] of Object.entries(request.files)) {
      inSandbox("files", path);
      if (typeof content !== "string") fail(`files["${path}"]: must be a string`);
    }
  }
  if (
    request.setupScript !== undefined &&
    (typeof request.setupScript !== "string" || request.setupScript.trim() === "")
  ) {
    fail("setupScript: must be a non-blank string of bash");
  }
  if (request.outputPaths !== undefined) {
    if (!Array.isArray(request.outputPaths)) fail("outputPaths: must be an array of paths");
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

/** A request path must be absolute and stay inside /sandbox once normalized. */
function inSandbox(field: string, path: unknown): void {
  if (typeof path !== "string" || !path.startsWith("/"))
    fail(`${field}: "${String(path)}" must be an absolute path inside /sandbox`);
  const normalized = posix.normalize(path);
  if (!normalized.startsWith("/sandbox/") || normalized === "/sandbox/")
    fail(`${field}: "${path}" is outside /sandbox`);
}

/** A package name or specifier: no installer flags, no paths, no URLs with spaces. */
const PACKAGE = /^[A-Za-z0-9@_.][A-Za-z0-9@_.\-/:=<>!~^*+,[\]]*$/;

/** Checks `installPackages` of a request (field names in messages are the request's). */
function validatePackages(runtime: Runtime, packages: unknown): void {
  if (!Array.isArray(packages))
    throw new InvalidRequestError("installPackages: must be an array of package names");
  if (packages.length > 0 && runtime === "bash")
    throw new InvalidRequestError(
      "installPackages: bash has no package installer at run time; bake Debian packages with `isol8 setup --bash PKG` or `isol8 build`",
    );
  for (const [i, name] of packages.entries()) {
    if (typeof name !== "string" || !PACKAGE.test(name))
      throw new InvalidRequestError(
        `installPackages[${i}]: ${JSON.stringify(name)} is not a package name (installer options are not accepted)`,
      );
  }
}
