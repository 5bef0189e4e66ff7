/**
 * isol8: run untrusted code in locked-down Docker containers.
 * @packageDocumentation
 */

export { DockerUnavailableError } from "./engine/docker-client.js";
export { DockerIsol8, ImageNotFoundError } from "./engine/docker-isol8.js";
export { InvalidOptionError } from "./engine/options.js";
export { InvalidRequestError } from "./engine/request.js";
export { SandboxFailure } from "./engine/sandbox-container.js";
export { RUNTIMES } from "./runtimes/runtime.js";
export type {
  DockerIsol8Options,
  ExecutionRequest,
  ExecutionResult,
  ExecutionSummary,
  NetworkMode,
  ResourceUsage,
  Runtime,
  StreamEvent,
} from "./types.js";
