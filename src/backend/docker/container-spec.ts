import { LABELS, ownerLabelValue } from "../../engine/labels.js";
import { SANDBOX_DIR, SANDBOX_GID, SANDBOX_UID, TMP_DIR } from "../../sandbox-layout.js";
import type { SandboxHardening } from "../backend.js";
import type { ContainerCreateBody } from "./engine-api/types.js";

const SUPERVISOR_PATH = "/usr/local/bin/isol8-supervisor";

/**
 * Capabilities the container starts with. Only the supervisor (PID 1, root)
 * holds them, to switch to the sandbox user and clear the bounding set; every
 * sandboxed program runs with all five capability sets empty.
 */
const SUPERVISOR_CAPABILITIES = ["SETUID", "SETGID", "SETPCAP"];

/**
 * Under gVisor, Docker's pids cgroup counts gVisor's own host threads and
 * stub processes (about 46 idle, about 10 more per sandboxed process), not
 * the sandbox's processes; at 64 its kernel cannot start a second program.
 * The limit is raised by this much there, which still stops a fork bomb.
 */
const GVISOR_PIDS_OVERHEAD = 448;

/**
 * The Docker create options for one sandbox container: every security
 * default of a sandbox in one place (docs/architecture.md lists what any
 * backend must match).
 */
export function containerSpec(
  options: SandboxHardening & { persist: boolean },
  image: string,
  extraLabels: Record<string, string> = {},
): ContainerCreateBody {
  return {
    Image: image,
    Entrypoint: [SUPERVISOR_PATH],
    Cmd: [],
    User: "0:0",
    WorkingDir: SANDBOX_DIR,
    Env: [],
    // The supervisor's channel is the container's stdio. StdinOnce closes its
    // stdin when our connection drops, so the container ends with its engine.
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: true,
    Tty: false,
    NetworkDisabled: options.network === "none",
    Labels: {
      [LABELS.managed]: "true",
      [LABELS.owner]: ownerLabelValue(),
      ...extraLabels,
    },
    HostConfig: {
      AutoRemove: !options.persist,
      NetworkMode: options.network === "host" ? "host" : "none",
      ReadonlyRootfs: options.readonlyRootFs,
      Tmpfs: {
        [SANDBOX_DIR]: `rw,exec,nosuid,nodev,size=${options.sandboxBytes},uid=${SANDBOX_UID},gid=${SANDBOX_GID},mode=0700`,
        [TMP_DIR]: `rw,noexec,nosuid,nodev,size=${options.tmpBytes},mode=1777`,
      },
      Memory: options.memoryBytes,
      MemorySwap: options.memoryBytes,
      NanoCpus: Math.round(options.cpuLimit * 1e9),
      PidsLimit: options.pidsLimit + (options.ociRuntime === "runsc" ? GVISOR_PIDS_OVERHEAD : 0),
      CapDrop: ["ALL"],
      CapAdd: SUPERVISOR_CAPABILITIES,
      SecurityOpt: ["no-new-privileges:true", options.seccompOpt],
      ...(options.ociRuntime ? { Runtime: options.ociRuntime } : {}),
      // Nothing that crosses the channel (code, stdin, secrets, output) may
      // land in Docker's log files on the host.
      LogConfig: { Type: "none", Config: {} },
      Ulimits: [{ Name: "core", Soft: 0, Hard: 0 }],
      IpcMode: "private",
    },
  };
}
