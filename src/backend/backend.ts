import { InvalidOptionError } from "../engine/errors.js";
import type { ResolvedOptions } from "../engine/options.js";
import { Isol8Error } from "../errors.js";

/**
 * The seam between the engine and what runs its sandboxes. The engine
 * (`DockerIsol8`, its pools, sessions and code contexts) speaks only to a
 * `SandboxBackend`: it asks for a hardened sandbox from a `SandboxSpec`,
 * talks to the sandbox's supervisor over the `SupervisorChannel` the backend
 * hands back, runs file operations beside it with `exec`, and removes it.
 * Docker (`src/backend/docker/`) is the first backend; another one (pods
 * with a gVisor RuntimeClass, say) implements these types without the engine
 * changing. docs/architecture.md states the contract in full, including the
 * security defaults a backend must enforce or refuse to run without.
 */
export interface SandboxBackend {
  /** A short name for messages: `docker`. */
  readonly name: string;
  /** What this backend can do beyond the core contract; the engine refuses what is absent. */
  readonly capabilities: Readonly<BackendCapabilities>;
  /** Resolves when the backend answers; otherwise throws a one-line error a user can act on. */
  ping(): Promise<void>;
  /**
   * Creates and starts one sandbox from `spec`, with the supervisor as its
   * first process and its channel attached before the supervisor starts (its
   * hello is the first thing on the channel). The sandbox must end by itself
   * when the channel's writing side closes (the engine went away).
   */
  create(spec: SandboxSpec): Promise<BackendSandbox>;
}

/**
 * Optional abilities of a backend. The engine checks them where a feature
 * needs one (`requireCapability`) and refuses the feature with an error
 * naming it, rather than run it half.
 */
export interface BackendCapabilities {
  /** `network: "host"`: the sandbox shares the host's network stack. */
  hostNetwork: boolean;
  /**
   * A directory of the engine's machine can be mounted into the sandbox:
   * `network: "filtered"` needs it (the egress gateway's unix socket).
   */
  localMounts: boolean;
  /** `persist`: a sandbox can be left running after its run, for debugging. */
  keepForDebugging: boolean;
  /** A sandbox and its channel outlive the engine process and can be re-attached after a restart. */
  reattach: boolean;
  /** A running sandbox's processes can be checkpointed and restored. */
  checkpoint: boolean;
  /** Named volumes can be mounted into sandboxes. */
  volumes: boolean;
  /** A port inside the sandbox can be reached from outside. */
  inboundPorts: boolean;
  /** CPU and memory figures of a running sandbox can be read while it runs. */
  liveMetrics: boolean;
}

/** The engine's hardening settings a backend applies to every sandbox it creates. */
export type SandboxHardening = Pick<
  ResolvedOptions,
  | "network"
  | "readonlyRootFs"
  | "sandboxBytes"
  | "tmpBytes"
  | "memoryBytes"
  | "cpuLimit"
  | "pidsLimit"
  | "seccompOpt"
  | "ociRuntime"
>;

/** What one sandbox is to be. */
export interface SandboxSpec {
  /** The image holding the supervisor at its fixed path and the runtime. */
  image: string;
  hardening: SandboxHardening;
  /** Labels that mark the sandbox as isol8's (and whose), for cleanup and listing. */
  labels: Record<string, string>;
  /** A directory of the engine's machine to mount read-only at /run/isol8: the egress gateway's socket. */
  egressDirectory?: string;
  /** Leave the sandbox running after its supervisor is told to linger (`persist`). */
  keep: boolean;
}

/** One sandbox a backend created. */
export interface BackendSandbox {
  /** The backend's id for it (a Docker container id). */
  readonly id: string;
  /** The supervisor's framed byte stream, both ways. */
  readonly channel: SupervisorChannel;
  /**
   * Runs `argv` beside the supervisor, as the sandbox user with
   * no-new-privileges under the sandbox's limits and seccomp profile, with
   * nothing but `stdin` as input; the wait ends by `timeoutMs` (and a
   * grace) whatever the process does. Stdout past `maxBytes` is not kept.
   */
  exec(argv: string[], options: ExecOptions): Promise<ExecResult>;
  /**
   * Removes the sandbox and resolves once it is gone. `askToQuit` tells the
   * supervisor to exit (a clean stop); a sandbox still there after a few
   * seconds is removed by force.
   */
  remove(askToQuit: () => void): Promise<void>;
  /** Removes the sandbox at once, without waiting (its channel has failed). */
  destroy(): void;
  /** Its CPU, memory and network figures now; only with the `liveMetrics` capability. */
  usage?(): Promise<SandboxUsage>;
}

/** What a running sandbox uses, read when asked (`BackendSandbox.usage`). */
export interface SandboxUsage {
  /** CPU time used since it started, in nanoseconds. */
  cpuNanos: number;
  /** Memory in use (without reclaimable page cache) and the limit, in bytes. */
  memoryBytes: number;
  memoryLimitBytes: number;
  networkRxBytes: number;
  networkTxBytes: number;
}

/**
 * The supervisor's side of the sandbox: frames written to it, its frames
 * and diagnostics read from it. Flow control is the backend's transport's:
 * `pause` stops reading (a slow consumer), `resume` starts again.
 */
export interface SupervisorChannel {
  write(bytes: Buffer): void;
  /** Closes the writing side; the supervisor sees end-of-file and exits. */
  end(): void;
  pause(): void;
  resume(): void;
  /** Tears the channel down at once. */
  destroy(): void;
  /** Bytes of the supervisor's stdout: its frames. */
  onFrames(listener: (chunk: Buffer) => void): void;
  /** Lines the supervisor writes to stderr (diagnostics, never program output). */
  onDiagnostic(listener: (chunk: Buffer) => void): void;
  /** The channel ended or broke; `reason` says how. Called once per cause. */
  onEnd(listener: (reason: string) => void): void;
  /** The channel is closed for good: the sandbox is going. */
  onClose(listener: () => void): void;
}

export interface ExecOptions {
  stdin?: Buffer;
  maxBytes: number;
  timeoutMs: number;
}

/** What `BackendSandbox.exec` saw of the process. */
export interface ExecResult {
  /** -1 when the backend did not report an exit (the stream broke, or a deadline passed). */
  exitCode: number;
  stdout: Buffer;
  stderr: string;
  /** Stdout went past `maxBytes`; none of it is kept. */
  truncated: boolean;
  /** The engine stopped waiting at its deadline. */
  timedOut: boolean;
}

/** The requested image is not there; the message says how to build it. */
export class ImageNotFoundError extends Isol8Error {
  override readonly name = "ImageNotFoundError";
  override readonly code = "IMAGE_NOT_FOUND";
}

/** An option asks for what the engine's backend cannot provide; the message names both. */
export class UnsupportedByBackendError extends InvalidOptionError {
  override readonly name = "UnsupportedByBackendError";
  override readonly code = "UNSUPPORTED_BY_BACKEND";
}

/** Throws UnsupportedByBackendError naming `feature` unless `backend` has `capability`. */
export function requireCapability(
  backend: SandboxBackend,
  capability: keyof BackendCapabilities,
  feature: string,
): void {
  if (backend.capabilities[capability]) return;
  throw new UnsupportedByBackendError(
    `${feature} needs a backend with ${capability}, which the ${backend.name} backend does not have`,
  );
}
