import type { Duplex } from "node:stream";
import { InvalidOptionError } from "../../engine/errors.js";
import { PYTHON_DATA_IMAGE } from "../../images/variants.js";
import { GATEWAY_MOUNT } from "../../network/gateway.js";
import { SANDBOX_DIR, SANDBOX_GID, SANDBOX_UID } from "../../sandbox-layout.js";
import {
  type BackendCapabilities,
  type BackendSandbox,
  type ExecOptions,
  type ExecResult,
  ImageNotFoundError,
  type SandboxBackend,
  type SandboxSpec,
  type SandboxUsage,
  type SupervisorChannel,
} from "../backend.js";
import { assertDockerReachable, createDockerClient } from "./client.js";
import { containerSpec } from "./container-spec.js";
import type { Container, DockerClient } from "./engine-api/client.js";
import { hasStatus } from "./engine-api/errors.js";
import { DockerStdioDemuxer, type DockerStdioError } from "./stdio.js";

/** How long past its own timeout the engine waits for an exec'd process. */
const EXEC_GRACE_MS = 2_000;
/** Stderr of an exec'd process kept for error messages. */
const EXEC_STDERR_CHARS = 4096;
/** How long a told-to-quit container has to be removed before it is removed by force. */
const REMOVAL_WAIT_MS = 5_000;

/**
 * Sandboxes as containers of a Docker engine: the local one, or the one
 * DOCKER_HOST names. The supervisor's channel is the container's attached
 * stdio, created with StdinOnce, so a container ends when its engine's
 * connection drops: nothing outlives the engine, and there is no reattach.
 */
export class DockerBackend implements SandboxBackend {
  readonly name = "docker";
  readonly capabilities: Readonly<BackendCapabilities>;

  constructor(private readonly docker: DockerClient = createDockerClient()) {
    this.capabilities = {
      hostNetwork: true,
      // A bind mount names a path on the Docker engine's machine, which is this one only over a unix socket.
      localMounts: docker.endpoint.kind === "socket",
      keepForDebugging: true,
      reattach: false,
      checkpoint: false,
      volumes: false,
      inboundPorts: false,
      liveMetrics: true,
    };
  }

  ping(): Promise<void> {
    return assertDockerReachable(this.docker);
  }

  async create(spec: SandboxSpec): Promise<BackendSandbox> {
    const options = containerSpec(
      { ...spec.hardening, persist: spec.keep },
      spec.image,
      spec.labels,
    );
    if (spec.egressDirectory)
      options.HostConfig = {
        ...options.HostConfig,
        Binds: [`${spec.egressDirectory}:${GATEWAY_MOUNT}:ro`],
      };
    let container: Container;
    try {
      container = await this.docker.createContainer(options);
    } catch (error) {
      throw explainCreateError(error, spec);
    }
    try {
      // Attach before start: the supervisor's first words are not logged anywhere.
      const stream = await container.attach();
      const sandbox = new DockerSandbox(container, stream);
      await container.start();
      return sandbox;
    } catch (error) {
      await container.remove({ force: true }).catch(() => undefined);
      throw explainCreateError(error, spec);
    }
  }
}

/** Docker's answer to a create or start, as an error a user can act on. */
function explainCreateError(error: unknown, spec: SandboxSpec): unknown {
  const message = String((error as Error).message);
  const runtime = spec.hardening.ociRuntime;
  if (runtime && /unknown runtime|specified runtime/i.test(message)) {
    return new InvalidOptionError(
      `ociRuntime: "${runtime}" is not registered with Docker (see \`docker info\` for the runtimes it knows; scripts/install-gvisor.sh registers runsc)`,
    );
  }
  if (hasStatus(error, 404) && /image/i.test(message)) {
    return new ImageNotFoundError(
      spec.image === PYTHON_DATA_IMAGE
        ? `image ${spec.image} not found; run \`isol8 setup --data-science\` to build it`
        : `image ${spec.image} not found; run \`isol8 setup\` to build the runtime images`,
    );
  }
  return error;
}

/** One container and its attached stdio. */
class DockerSandbox implements BackendSandbox {
  readonly channel: SupervisorChannel;

  constructor(
    private readonly container: Container,
    stream: Duplex,
  ) {
    this.channel = attachedChannel(stream);
  }

  get id(): string {
    return this.container.id;
  }

  /** Docker's one-shot stats of the container. */
  async usage(): Promise<SandboxUsage> {
    const stats = await this.container.stats();
    const memory = stats.memory_stats ?? {};
    const cache =
      memory.stats?.inactive_file ?? memory.stats?.total_inactive_file ?? memory.stats?.cache ?? 0;
    const networks = Object.values(stats.networks ?? {});
    return {
      cpuNanos: stats.cpu_stats?.cpu_usage?.total_usage ?? 0,
      memoryBytes: Math.max(0, (memory.usage ?? 0) - cache),
      memoryLimitBytes: memory.limit ?? 0,
      networkRxBytes: networks.reduce((sum, n) => sum + (n.rx_bytes ?? 0), 0),
      networkTxBytes: networks.reduce((sum, n) => sum + (n.tx_bytes ?? 0), 0),
    };
  }

  /**
   * `docker exec` as the sandbox user: the container's seccomp profile and
   * cgroup limits apply, and `setpriv --no-new-privs` sets what the
   * supervisor sets for its programs whatever Docker's version does for
   * exec. The exit code is -1 unless Docker reports the process exited.
   */
  async exec(argv: string[], options: ExecOptions): Promise<ExecResult> {
    const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
    const exec = await this.container.exec({
      Cmd: ["setpriv", "--no-new-privs", "timeout", "-s", "KILL", String(seconds), ...argv],
      User: `${SANDBOX_UID}:${SANDBOX_GID}`,
      WorkingDir: SANDBOX_DIR,
      Env: ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
      AttachStdin: options.stdin !== undefined,
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await exec.start();
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = "";
    let truncated = false;
    const demuxer = new DockerStdioDemuxer(
      (chunk) => {
        if (truncated) return;
        stdoutBytes += chunk.length;
        if (stdoutBytes <= options.maxBytes) stdout.push(chunk);
        else {
          truncated = true;
          stdout.length = 0;
          stream.destroy();
        }
      },
      (chunk) => {
        if (stderr.length < EXEC_STDERR_CHARS) stderr += chunk.toString();
      },
    );
    let timedOut = false;
    let unreadable: DockerStdioError | undefined;
    let timer: NodeJS.Timeout | undefined;
    // A stream error (the process left without reading all of stdin) still
    // has an exit code and stderr that say why; they are looked at below.
    await new Promise<void>((resolve) => {
      stream.on("data", (chunk: Buffer) => {
        try {
          demuxer.push(chunk);
        } catch (error) {
          unreadable = error as DockerStdioError;
          stream.destroy();
        }
      });
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.on("error", () => resolve());
      timer = setTimeout(() => {
        timedOut = true;
        stream.destroy();
        resolve();
      }, options.timeoutMs + EXEC_GRACE_MS);
      if (options.stdin !== undefined) stream.end(options.stdin);
    });
    clearTimeout(timer);
    if (unreadable) throw unreadable;
    let exitCode = -1;
    // The stream can end a moment before Docker records the exit code.
    for (let tries = 0; !timedOut && !truncated && tries < 50; tries++) {
      const state = await exec.inspect().catch(() => undefined);
      if (state && !state.Running) {
        exitCode = state.ExitCode ?? -1;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return {
      exitCode,
      stdout: Buffer.concat(stdout),
      stderr: stderr.slice(0, EXEC_STDERR_CHARS).trim(),
      truncated,
      timedOut,
    };
  }

  async remove(askToQuit: () => void): Promise<void> {
    // Docker 20.10 can miss the removal of a container it is asked to wait
    // for, so the wait is bounded and its request aborted, never left open.
    const abort = new AbortController();
    const removed = this.container.wait({ condition: "removed", signal: abort.signal }).then(
      () => true,
      (error: unknown) => hasStatus(error, 404), // already gone
    );
    // Told to quit, the supervisor exits and Docker's AutoRemove deletes the container.
    askToQuit();
    const deadline = setTimeout(() => abort.abort(), REMOVAL_WAIT_MS);
    const gone = await removed;
    clearTimeout(deadline);
    if (gone) return;
    await this.container.remove({ force: true }).catch((error: unknown) => {
      if (!hasStatus(error, 404) && !hasStatus(error, 409)) throw error;
    });
  }

  destroy(): void {
    this.channel.destroy();
    this.container.remove({ force: true }).catch(() => undefined);
  }
}

/** The supervisor's channel over a container's attached, multiplexed stdio. */
function attachedChannel(stream: Duplex): SupervisorChannel {
  let onFrames: (chunk: Buffer) => void = () => undefined;
  let onDiagnostic: (chunk: Buffer) => void = () => undefined;
  const demuxer = new DockerStdioDemuxer(
    (chunk) => onFrames(chunk),
    (chunk) => onDiagnostic(chunk),
  );
  return {
    write: (bytes) => void stream.write(bytes),
    end: () => void stream.end(),
    pause: () => void stream.pause(),
    resume: () => void stream.resume(),
    destroy: () => void stream.destroy(),
    onFrames(listener) {
      onFrames = listener;
      // Reading starts here: what the supervisor said first waited in the stream.
      stream.on("data", (chunk: Buffer) => {
        try {
          demuxer.push(chunk);
        } catch (error) {
          // Past a record that is not Docker's nothing can be read: the channel is lost.
          stream.destroy(error as Error);
        }
      });
    },
    onDiagnostic(listener) {
      onDiagnostic = listener;
    },
    onEnd(listener) {
      stream.on("end", () => listener("the sandbox container stopped"));
      stream.on("close", () => listener("the sandbox container stopped"));
      stream.on("error", (error: Error) => listener(`lost the sandbox channel: ${error.message}`));
    },
    onClose(listener) {
      stream.on("close", listener);
    },
  };
}
