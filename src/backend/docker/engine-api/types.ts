// The Docker Engine API's request and response bodies, narrowed to the
// fields isol8 sends or reads (Engine API reference, v1.41). Docker sends
// more; what is not named here is not looked at.

/** A container's host-side settings, as sent on create and read back by inspect. */
interface HostConfig {
  AutoRemove?: boolean;
  Binds?: string[];
  NetworkMode?: string;
  ReadonlyRootfs?: boolean;
  /** Mount point to tmpfs mount options. */
  Tmpfs?: Record<string, string>;
  Memory?: number;
  MemorySwap?: number;
  NanoCpus?: number;
  PidsLimit?: number;
  CapDrop?: string[];
  CapAdd?: string[];
  SecurityOpt?: string[];
  /** The OCI runtime (`runc`, `runsc`) by the name Docker registered it under. */
  Runtime?: string;
  LogConfig?: { Type: string; Config?: Record<string, string> };
  Ulimits?: { Name: string; Soft: number; Hard: number }[];
  IpcMode?: string;
}

/** The body of `POST /containers/create`. */
export interface ContainerCreateBody {
  Image: string;
  Entrypoint?: string[];
  Cmd?: string[];
  /** `uid:gid` (or a name) the container's first process runs as. */
  User?: string;
  WorkingDir?: string;
  /** `NAME=value` entries. */
  Env?: string[];
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Tty?: boolean;
  NetworkDisabled?: boolean;
  Labels?: Record<string, string>;
  HostConfig?: HostConfig;
}

/** One entry of `GET /containers/json`. */
export interface ContainerSummary {
  Id: string;
  Image: string;
  /** `created`, `running`, `exited`, ... */
  State: string;
  /** In words: `Up 5 seconds`, `Exited (0) 2 minutes ago`. */
  Status: string;
  /** An empty object when it has none. */
  Labels: Record<string, string>;
}

/** `GET /containers/{id}/json`, as far as isol8 reads it. */
export interface ContainerInspect {
  Id: string;
  State: {
    Running: boolean;
    /** The container's first process as the host's kernel numbers it (0 when not running). */
    Pid: number;
    Status?: string;
  };
  Config: {
    Image?: string;
    Env?: string[];
    Cmd?: string[] | null;
    Entrypoint?: string[] | null;
    Labels: Record<string, string>;
  };
  HostConfig: HostConfig;
}

/** `POST /containers/{id}/wait`. */
export interface ContainerWaitResult {
  StatusCode: number;
  Error?: { Message?: string } | null;
}

/** `GET /containers/{id}/top`: one row of `ps` output per process, its columns named by `Titles`. */
export interface ContainerTop {
  Titles?: string[];
  Processes?: string[][];
}

/** `GET /containers/{id}/stats?stream=false&one-shot=true`: the figures isol8 reads of one reading. */
export interface ContainerStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number }; online_cpus?: number };
  memory_stats?: {
    usage?: number;
    limit?: number;
    /** cgroup v1 names the page cache `cache`, v2 `inactive_file`. */
    stats?: { cache?: number; inactive_file?: number; total_inactive_file?: number };
  };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
}

/** The body of `POST /containers/{id}/exec`. */
export interface ExecCreateBody {
  Cmd: string[];
  User?: string;
  WorkingDir?: string;
  Env?: string[];
  Privileged?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
}

/** `GET /exec/{id}/json`. */
export interface ExecInspect {
  Running: boolean;
  /** Null until the process has exited. */
  ExitCode: number | null;
}

/** One entry of `GET /images/json`. */
export interface ImageSummary {
  /** `sha256:` and the image's digest. */
  Id: string;
  RepoTags?: string[] | null;
  /** Seconds since the epoch. */
  Created?: number;
  Labels?: Record<string, string> | null;
}

/** `GET /images/{name}/json`, as far as isol8 reads it. */
export interface ImageInspect {
  Id: string;
  RepoTags?: string[] | null;
  /** Bytes. */
  Size: number;
  Config: { Labels?: Record<string, string> | null };
}

/** One entry of `GET /networks`. */
export interface NetworkSummary {
  Id: string;
  Name: string;
}

/** `GET /version`. */
export interface EngineVersion {
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  /** The engine machine's architecture in Go's words: `amd64`, `arm64`, ... */
  Arch: string;
  Os: string;
}

/** Docker's list filters: a filter name to the values any of which may match, e.g. `label: ["a=b"]`. */
export type ListFilters = Record<string, string[]>;

/** The query of `POST /build` (classic builder; a tar of the context is the body). */
export interface BuildQuery {
  /** The tag to give the image. */
  t: string;
  labels?: Record<string, string>;
  nocache?: boolean;
  /** Pull a newer version of every FROM image. */
  pull?: boolean;
  /** Remove intermediate containers after a successful build, and (forcerm) a failed one. */
  rm?: boolean;
  forcerm?: boolean;
  buildargs?: Record<string, string>;
  /** The network of the RUN steps. */
  networkmode?: string;
}

/** The query of `POST /images/create` importing a root filesystem tar (`docker import`). */
export interface ImportQuery {
  repo: string;
  tag?: string;
  /** The commit message of the image's only layer. */
  message?: string;
  /** Dockerfile instructions (ENV, CMD, LABEL, ...) applied to the image. */
  changes?: string[];
}
