import type { Runtime } from "./runtimes/runtime.js";

export type { Runtime } from "./runtimes/runtime.js";

/**
 * How a sandbox reaches the network: `none` (loopback only), `host` (the
 * host's network, unfiltered) or `filtered` (only through isol8's egress
 * gateway, which applies a NetworkFilter).
 */
export type NetworkMode = (typeof NETWORK_MODES)[number];

/**
 * Every NetworkMode, least reach first (what a configuration file widens is
 * ranked in this order): the one list schemas, checks and messages use.
 */
export const NETWORK_MODES = ["none", "filtered", "host"] as const;

/** Every EngineMode (see `DockerIsol8Options.mode`). */
export const ENGINE_MODES = ["ephemeral", "persistent"] as const;

/** Whether an engine's sandboxes are fresh per execution or one kept until `stop()`. */
export type EngineMode = (typeof ENGINE_MODES)[number];

/** Every SeccompMode (see `SecurityOptions.seccomp`). */
export const SECCOMP_MODES = ["strict", "unconfined", "custom"] as const;

/** Which seccomp profile sandboxes run under. */
export type SeccompMode = (typeof SECCOMP_MODES)[number];

/** Every PoolStrategy (see `DockerIsol8Options.poolStrategy`). */
export const POOL_STRATEGIES = ["fast", "secure"] as const;

/**
 * `fast`: a container is wiped after a run (the supervisor returns it to its
 * start-up state and verifies that; see `wipe()` in supervisor.c) and reused.
 * `secure`: a container runs one execution only; fresh ones are started
 * ahead of time so that nobody waits for them.
 */
export type PoolStrategy = (typeof POOL_STRATEGIES)[number];

/**
 * What a `filtered` sandbox may reach. Patterns are regular expressions that
 * must match the whole destination host name (case-insensitive; names are
 * compared lower-case, without a trailing dot, in punycode). Deny wins; an
 * empty allow list allows nothing. `NAME:PORT` limits a rule to one port.
 * Addresses inside this machine or a private network (loopback, RFC 1918,
 * link-local and metadata, IPv6 ULA) are refused, also when a name resolves
 * to them, unless an allow rule is that address (e.g. `10\.0\.0\.5`).
 */
export interface NetworkFilter {
  /** Host patterns that may be reached. */
  whitelist?: string[];
  /** Host patterns that may never be reached, even when allowed. */
  blacklist?: string[];
  /** Ports any allowed host may be reached on. Default 80 and 443. */
  ports?: number[];
}

/** One connection a filtered sandbox opened or tried to open through the gateway. */
export interface NetworkLogEntry {
  /** When the request reached the gateway, ISO 8601. */
  timestamp: string;
  /** `CONNECT` for a tunnel (HTTPS), else the HTTP method of a plain request. */
  method: string;
  /** The destination host, normalized as the filter saw it. */
  host: string;
  port: number;
  /** The request path of a plain HTTP request; null for a tunnel. */
  path: string | null;
  action: "ALLOW" | "BLOCK";
  /** Why a request was blocked (or why an allowed one failed upstream). */
  reason?: string;
  /** From the request to the end of the connection, in ms. */
  durationMs: number;
  /** Bytes sent by the sandbox to the destination. */
  bytesOut: number;
  /** Bytes received from the destination. */
  bytesIn: number;
}

/** Package registries used by installs: mirrors and private indexes. */
export interface PackageRegistries {
  /** A pip index URL (PEP 503 simple index), e.g. `https://pypi.example.com/simple`. Default PyPI. */
  pip?: string;
  /** An npm registry URL, used by npm, bun and deno's `npm:` specifiers. Default registry.npmjs.org. */
  npm?: string;
}

/** One program to run. Exactly one of `code` and `cmd` is given. */
export interface ExecutionRequest {
  /** Which language `code` is written in (and whose image runs `cmd`). */
  runtime: Runtime;
  /** Source text of the program. */
  code?: string;
  /** A shell command, run with bash in the runtime's image instead of `code`. */
  cmd?: string;
  /**
   * File extension for `code`, e.g. `.cjs` to run node code as CommonJS.
   * Defaults to the runtime's own (`.py`, `.mjs`, `.ts`, `.mts`, `.sh`).
   */
  fileExtension?: string;
  /** Bytes fed to the program's standard input (then end-of-file). */
  stdin?: string;
  /** Extra environment variables for the program. */
  env?: Record<string, string>;
  /** Overrides the engine's timeout for this request. */
  timeoutMs?: number;
  /** Text files placed before the program starts: absolute path under /sandbox -> content. */
  files?: Record<string, string>;
  /**
   * Files of any content placed before the program starts, like `files`:
   * absolute path under /sandbox -> the bytes, base64-encoded. A path given
   * in both is refused.
   */
  filesBase64?: Record<string, string>;
  /**
   * The directory the program (and `setupScript`) starts in: an absolute
   * path inside /sandbox, created as the sandbox user when missing. Default
   * /sandbox. The program's own file stays /sandbox/main.<ext>; package
   * installs still run in /sandbox.
   */
  workdir?: string;
  /**
   * Files under /sandbox returned (base64) in the result's `files` after the
   * run: at most 256 paths, sharing `maxOutputSize` bytes between them.
   */
  outputPaths?: string[];
  /**
   * Bash run in the same sandbox before the program, sharing its timeout.
   * If it fails, the program does not run and the result is the setup's.
   */
  setupScript?: string;
  /**
   * Packages installed into /sandbox before the program (and before
   * `setupScript`): pip for python, npm for node, `bun add` for bun, and
   * `npm:`/`jsr:` specifiers cached for deno (a bare name means `npm:`).
   * Needs network `filtered` or `host`; the install may reach the runtime's
   * registry even when the filter does not list it, the program may not.
   */
  installPackages?: string[];
  /**
   * Runs `code` as the next cell of this code context (from
   * `createContext`): a live interpreter of the same runtime whose
   * variables, imports and functions persist from one call to the next.
   * Only `runtime`, `code` and `timeoutMs` may be given with it; an unknown
   * id, or a context of another runtime, is an InvalidRequestError.
   */
  contextId?: string;
}

/** Resource usage of one execution, measured inside the container. */
export interface ResourceUsage {
  /** CPU time as a share of wall time, in percent (100 = one full core). */
  cpuPercent: number;
  /** Peak memory of the container during the run, in MiB. */
  memoryMB: number;
  /** CPU time (user + system) of the program and its children, in ms. */
  cpuTimeMs: number;
  /** Bytes received through the egress gateway (0 unless the network is `filtered`). */
  networkBytesIn: number;
  /** Bytes sent through the egress gateway (0 unless the network is `filtered`). */
  networkBytesOut: number;
}

/**
 * The exit code of a run (or a context's cell) that ran past its timeout, in
 * every face: the library's result, the HTTP API, MCP and `isol8 run`. It is
 * what `timeout(1)` exits with, so a timeout never reads as the SIGKILL (137)
 * that an out-of-memory kill also is.
 */
export const TIMEOUT_EXIT_CODE = 124;

/** What an execution produced. */
export interface ExecutionResult {
  /** Standard output, secrets masked, cut at `maxOutputSize` bytes. */
  stdout: string;
  /** Standard error, secrets masked, cut at `maxOutputSize` bytes. */
  stderr: string;
  /**
   * The program's exit code; 128 + signal number when a signal ended it, and
   * `TIMEOUT_EXIT_CODE` (124) when it was killed for running past its timeout.
   */
  exitCode: number;
  /** Wall time of the execution, from request to result, in ms. */
  durationMs: number;
  /** True when stdout or stderr was cut at the output limit. */
  truncated: boolean;
  /** True when the program was killed because it ran past its timeout. */
  timedOut: boolean;
  /** True when the kernel killed a process of the run for exceeding the memory limit. */
  oomKilled: boolean;
  /** A UUID naming this execution. */
  executionId: string;
  runtime: Runtime;
  /** When the execution started, ISO 8601. */
  timestamp: string;
  /** The container that ran the program. */
  containerId?: string;
  resourceUsage?: ResourceUsage;
  /** True when the request's setupScript failed (or timed out) and the program did not run. */
  setupFailed?: boolean;
  /** True when installing `installPackages` failed (or timed out); stdout/stderr are the installer's. */
  installFailed?: boolean;
  /** The gateway's record of the run's connections (network `filtered` with `logNetwork`). */
  networkLogs?: NetworkLogEntry[];
  /**
   * The request's `outputPaths` that the run left as regular files inside
   * /sandbox, base64-encoded, keyed by normalized path. Together they hold at
   * most `maxOutputSize` bytes: each file's size is reserved, in the order
   * of `outputPaths`, before it is read. A path that is missing, not a
   * regular file, resolves outside /sandbox or does not fit in what is left
   * is left out, and named in `fileErrors`.
   */
  files?: Record<string, string>;
  /** The `outputPaths` left out of `files`, each with the reason; absent when none was. */
  fileErrors?: Record<string, string>;
  /**
   * `outputPaths` whose file was withheld (left out of `files`) because it
   * holds the value of one of the engine's secrets, raw or in a common
   * encoding: masking would corrupt a binary file. A stream also names each
   * in an `error` event. Absent when none was.
   */
  withheldFiles?: string[];
  /**
   * Code contexts: the value of the cell's last expression as text, as a
   * REPL shows it (Python `repr()`, Node `util.inspect()`); absent when the
   * last statement is not an expression or its value is None/undefined.
   */
  value?: string;
  /**
   * Code contexts (python): the cell's rich outputs, in the order it made
   * them: matplotlib figures (PNG, each open figure after the cell, or at
   * `plt.show()`), and the last value's richest representation
   * (`_repr_png_`, else `_repr_svg_`, else `_repr_html_`; `value` still has
   * its text). Absent when there are none. Each one's `stdoutOffset` says
   * where it came in the text output. Outputs count against `maxOutputSize`
   * together: one that does not fit is left out whole and `truncated` is
   * set. A streamed call delivers them in its `exit` event's `result`.
   */
  outputs?: RichOutput[];
  /**
   * Code contexts: true when the context's interpreter was restarted during
   * this call or since the last one (a cell that did not stop when
   * interrupted, or an interpreter that died): its state is lost.
   */
  contextRestarted?: boolean;
}

/** A rich output of a code context's cell: an image, SVG or HTML (see ExecutionResult.outputs). */
export interface RichOutput {
  type: "image/png" | "image/svg+xml" | "text/html";
  /** The PNG's bytes in base64; the SVG or HTML text, with secrets masked. */
  data: string;
  /**
   * Where the output came in the cell's text output: after
   * `stdout.slice(0, stdoutOffset)` and before the rest (a string index,
   * UTF-16 code units; for a stream, of its stdout events' data joined).
   */
  stdoutOffset: number;
}

/** An ExecutionResult without the output, which a stream has already delivered. */
export type ExecutionSummary = Omit<ExecutionResult, "stdout" | "stderr">;

/** One event of a streamed execution, delivered as the program produces output. */
export type StreamEvent =
  /** `phase` says whether output came from installing packages, the setupScript or the program; set only when there is a setup or install. */
  | { type: "stdout" | "stderr"; data: string; phase?: "install" | "setup" | "code" }
  /** `data` is the exit code in decimal; `result` is what `execute` would have returned. Always last. */
  | { type: "exit"; data: string; result: ExecutionSummary }
  /** Something the caller should know before `exit`: a timeout, an out-of-memory kill, truncated output. */
  | { type: "error"; data: string };

/** Options of a DockerIsol8 engine. Every field has a safe default. */
export interface DockerIsol8Options {
  /**
   * `ephemeral` (default): every execution gets a fresh container.
   * `persistent`: one container keeps its files between executions until `stop()`.
   */
  mode?: EngineMode;
  /** Network access of sandboxes. Default `none`. */
  network?: NetworkMode;
  /** What sandboxes may reach when `network` is `filtered`; given with another mode it is an error. */
  networkFilter?: NetworkFilter;
  /** Return the gateway's connection log with each result (`networkLogs`; network `filtered`). */
  logNetwork?: boolean;
  /**
   * Extra CA certificates (PEM text) trusted inside sandboxes that have
   * network access, for networks with a TLS-intercepting proxy: pip, npm,
   * bun, deno, Python's ssl, Node's tls and curl all read them.
   */
  caCertificates?: string[];
  /** Registries `installPackages` uses instead of PyPI and registry.npmjs.org. */
  registries?: PackageRegistries;
  /** Memory limit, e.g. `512m`, `1g`. Default `512m`. Swap is never added on top. */
  memoryLimit?: string;
  /** CPU cores, e.g. `0.5`. Default 1. */
  cpuLimit?: number;
  /** Wall-clock limit of one execution in ms. Default 30000. */
  timeoutMs?: number;
  /** Maximum number of processes and threads in a sandbox. Default 64. */
  pidsLimit?: number;
  /** Size of the `/sandbox` tmpfs, e.g. `512m`. Default `512m`. */
  sandboxSize?: string;
  /** Size of the `/tmp` tmpfs, e.g. `256m`. Default `256m`. */
  tmpSize?: string;
  /** Read-only root filesystem. Default true. */
  readonlyRootFs?: boolean;
  /** Bytes of stdout and of stderr kept per execution. Default 1 MiB. */
  maxOutputSize?: number;
  /** Environment variables given to every program whose values are masked as `***` in all output. */
  secrets?: Record<string, string>;
  /** Image to run instead of the runtime's `isol8:<runtime>` image. */
  image?: string;
  /** Keep the container (running, for `docker exec`) after the execution, for debugging. */
  persist?: boolean;
  /** Log the engine's internal steps with timings to stderr. */
  debug?: boolean;
  /** System call filtering. */
  security?: SecurityOptions;
  /**
   * Ephemeral mode keeps started containers ready so an execution makes no
   * Docker API call. `fast` (default) wipes and reuses a container after each
   * run; `secure` never reuses one.
   */
  poolStrategy?: PoolStrategy;
  /** Containers kept ready (`clean`) and being wiped for reuse (`dirty`). Default 1 and 1; 0 and 0 turn the pool off. */
  poolSize?: { clean?: number; dirty?: number };
  /** Executions running at once; more wait their turn in arrival order. Default 10. */
  maxConcurrent?: number;
  /**
   * OCI runtime Docker runs sandboxes with, e.g. `runsc` (gVisor) for a
   * second kernel between the code and the host. Must be registered with
   * Docker; an unknown runtime is an error, never a silent fallback to runc.
   */
  ociRuntime?: string;
}

/** A code context of an engine: a live interpreter that keeps its state between calls. */
export interface ContextInfo {
  /** Pass it as `contextId` in an ExecutionRequest. */
  id: string;
  runtime: Runtime;
}

/** What `createContext` makes. */
export interface CreateContextOptions {
  /** `python` or `node`. */
  runtime: Runtime;
}

/** Where `putFile` and `getFile` act. */
export interface FileOptions {
  /**
   * A code context's /sandbox instead of the session's: a context runs in a
   * sandbox of its own, so files its cells read or write are there.
   */
  contextId?: string;
}

/** Where `getFile` reads, and how much it takes. */
export interface GetFileOptions extends FileOptions {
  /**
   * Largest file returned, in bytes; a larger one is refused by its size
   * (a SandboxFileTooLargeError) before any of it is read. Default: the
   * sandbox's size (`sandboxSize`).
   */
  maxBytes?: number;
}

/** How system calls of sandboxed code are filtered. */
export interface SecurityOptions {
  /**
   * `strict` (default): isol8's allow-list profile. `custom`: the profile at
   * `customProfilePath`. `unconfined`: no filtering (not recommended).
   * A profile that cannot be read or parsed fails the engine; it never runs
   * without one.
   */
  seccomp?: SeccompMode;
  /** Path of a Docker seccomp profile (JSON), for `seccomp: "custom"`. */
  customProfilePath?: string;
  /**
   * With `strict`: also accept system calls made through the compatibility
   * ABIs (32-bit x86 and x32 on x86-64 hosts, 32-bit ARM on arm64), for
   * 32-bit programs. Default false: such calls fail with EPERM, since they
   * are a second, less exercised way into the kernel.
   */
  compatAbis?: boolean;
}
