import type { DockerClient } from "../backend/docker/engine-api/client.js";
import { DockerStdioDemuxer } from "../backend/docker/stdio.js";
import { LABELS, ownerLabelValue } from "../engine/labels.js";
import { SANDBOX_DIR, SANDBOX_GID, SANDBOX_UID } from "../sandbox-layout.js";

interface ProbeOptions {
  /** `uid:gid` to run as; default the sandbox user `100:100`. */
  user?: string;
  /** Mount the root filesystem read-only with a tmpfs at /sandbox; default true. */
  readOnly?: boolean;
  env?: string[];
  /** Kill the container after this long; default 60 s. */
  timeoutMs?: number;
}

interface ProbeResult {
  exitCode: number;
  /** stdout then stderr (no TTY, as in sandboxes). */
  output: string;
  stdout: string;
  stderr: string;
}

/**
 * Runs a short command in a throwaway container the way sandboxes run: as the
 * sandbox user, no network, read-only root, a writable tmpfs home at /sandbox.
 */
export async function probeImage(
  docker: DockerClient,
  image: string,
  cmd: string[],
  options: ProbeOptions = {},
): Promise<ProbeResult> {
  const readOnly = options.readOnly ?? true;
  const container = await docker.createContainer({
    Image: image,
    Cmd: cmd,
    User: options.user ?? `${SANDBOX_UID}:${SANDBOX_GID}`,
    Env: options.env ?? [],
    Tty: false,
    NetworkDisabled: true,
    Labels: { [LABELS.managed]: "true", [LABELS.owner]: ownerLabelValue() },
    HostConfig: {
      NetworkMode: "none",
      ReadonlyRootfs: readOnly,
      Tmpfs: readOnly
        ? {
            [SANDBOX_DIR]: `rw,exec,nosuid,nodev,size=64m,uid=${SANDBOX_UID},gid=${SANDBOX_GID},mode=0700`,
          }
        : {},
    },
  });
  try {
    await container.start();
    const timer = setTimeout(() => {
      container.kill().catch(() => undefined);
    }, options.timeoutMs ?? 60_000);
    const status = await container.wait().finally(() => clearTimeout(timer));
    const { stdout, stderr } = demultiplex(await container.logs({ stdout: true, stderr: true }));
    return { exitCode: status.StatusCode, output: stdout + stderr, stdout, stderr };
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** A container's logs (no TTY: multiplexed) as the text of each stream. */
function demultiplex(data: Buffer): { stdout: string; stderr: string } {
  const chunks: Record<"stdout" | "stderr", Buffer[]> = { stdout: [], stderr: [] };
  new DockerStdioDemuxer(
    (chunk) => chunks.stdout.push(chunk),
    (chunk) => chunks.stderr.push(chunk),
  ).push(data);
  return {
    stdout: Buffer.concat(chunks.stdout).toString("utf8"),
    stderr: Buffer.concat(chunks.stderr).toString("utf8"),
  };
}
