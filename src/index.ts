/**
 * isol8: run untrusted code in locked-down Docker containers.
 * @packageDocumentation
 */

export type {
  BackendCapabilities,
  BackendSandbox,
  ExecOptions,
  ExecResult,
  SandboxBackend,
  SandboxHardening,
  SandboxSpec,
  SupervisorChannel,
} from "./backend/backend.js";
export { ImageNotFoundError, UnsupportedByBackendError } from "./backend/backend.js";
export { createDockerClient, DockerUnavailableError } from "./backend/docker/client.js";
export { DockerBackend } from "./backend/docker/docker-backend.js";
export type { DockerClient } from "./backend/docker/engine-api/client.js";
export type { DockerEnvironment } from "./backend/docker/engine-api/endpoint.js";
export type { BusyRetryOptions } from "./client/busy-retry.js";
export { RemoteError } from "./client/remote-error.js";
export type {
  RemoteExecutionRequest,
  RemoteIsol8Connection,
  RemoteIsol8Options,
  RemoteStreamRun,
} from "./client/remote-isol8.js";
export { RemoteIsol8 } from "./client/remote-isol8.js";
export type { RemoteSandbox } from "./client/remote-sandbox.js";
export type { SandboxSignal, StreamControl, StreamRun } from "./engine/docker-isol8.js";
export { DockerIsol8 } from "./engine/docker-isol8.js";
export { InvalidOptionError } from "./engine/options.js";
export { FrameTooLargeError } from "./engine/protocol.js";
export { InvalidRequestError } from "./engine/request.js";
export { SandboxFailure } from "./engine/sandbox-container.js";
export {
  SandboxFileError,
  SandboxFileTooLargeError,
  WithheldFileError,
} from "./engine/session-files.js";
export { Isol8Error } from "./errors.js";
export type { Isol8Engine, Isol8StreamControl, Isol8StreamRun } from "./isol8-engine.js";
export { MissingDependencyError } from "./optional-dependency.js";
export { RUNTIMES } from "./runtimes/runtime.js";
export type {
  Isol8CommandHandle,
  Isol8Commands,
  Isol8Files,
  Isol8Pty,
  Isol8Sandbox,
  Isol8WatchHandle,
  OutputCallbacks,
} from "./sandbox/api.js";
export type { Commands } from "./sandbox/commands.js";
export {
  ProcessNotFoundError,
  ProcessStartError,
  SandboxEndedError,
  SandboxFileNotFoundError,
  SandboxFileRefusedError,
  SandboxNotFoundError,
} from "./sandbox/errors.js";
export type { Files, WatchHandle } from "./sandbox/files.js";
export type { CommandHandle } from "./sandbox/handle.js";
export type { TerminalSize } from "./sandbox/process-protocol.js";
export type { Pty } from "./sandbox/pty.js";
export type { Sandbox } from "./sandbox/sandbox.js";
export type {
  CommandOptions,
  CommandResult,
  CreateSandboxOptions,
  EntryInfo,
  FilesystemEvent,
  FilesystemEventType,
  FileType,
  ListOptions,
  ProcessInfo,
  PtyOptions,
  ReadFormat,
  ReadOptions,
  SandboxInfo,
  SandboxMetrics,
  SandboxState,
  WatchOptions,
  WriteData,
} from "./sandbox/types.js";
export type { ServerConfig, ServerConfigInput } from "./server/config.js";
export type { Isol8Server, Isol8ServerOptions } from "./server/server.js";
export { createIsol8Server } from "./server/server.js";
export type {
  ContextInfo,
  CreateContextOptions,
  DockerIsol8Options,
  ExecutionRequest,
  ExecutionResult,
  ExecutionSummary,
  FileOptions,
  GetFileOptions,
  NetworkFilter,
  NetworkLogEntry,
  NetworkMode,
  PackageRegistries,
  ResourceUsage,
  RichOutput,
  Runtime,
  StreamEvent,
} from "./types.js";
