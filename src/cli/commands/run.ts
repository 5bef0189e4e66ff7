import { once } from "node:events";
import { createWriteStream, readFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { text } from "node:stream/consumers";
import type { Command } from "commander";
import type { RemoteIsol8Options } from "../../client/remote-isol8.js";
import { configEngineOptions, type Isol8Config } from "../../config/file.js";
import { ResultCollector } from "../../engine/collect-result.js";
import { DockerIsol8 } from "../../engine/docker-isol8.js";
import { registryRules } from "../../engine/installs.js";
import { InvalidOptionError } from "../../engine/options.js";
import { isOneOf, orList } from "../../one-of.js";
import { RUNTIMES } from "../../runtimes/runtime.js";
import {
  type DockerIsol8Options,
  type ExecutionRequest,
  type ExecutionSummary,
  NETWORK_MODES,
  type NetworkLogEntry,
  type NetworkMode,
  type PackageRegistries,
  type Runtime,
  SECCOMP_MODES,
  type StreamEvent,
} from "../../types.js";
import { resolveCodeInput } from "../code-input.js";
import { CONFIG_FLAG_HELP, cliConfig } from "../config-files.js";
import { exitWhenFlushed } from "../exit.js";
import { CliError, EXIT } from "../exit-codes.js";
import { readFilesDir } from "../files-dir.js";
import { type RemoteCodeFlags, remoteCodeSource } from "../remote-code.js";
import { reportError } from "../report-error.js";
import { remoteErrorForCli, remoteFromFlags } from "./session.js";

interface RunFlags extends RemoteCodeFlags {
  eval?: string;
  cmd?: string;
  runtime?: string;
  stream: boolean;
  json?: boolean;
  persist?: boolean;
  persistent?: boolean;
  debug?: boolean;
  timeout?: string;
  memory?: string;
  cpu?: string;
  pidsLimit?: string;
  sandboxSize?: string;
  tmpSize?: string;
  writable?: boolean;
  maxOutput?: string;
  secret: string[];
  setup: string[];
  stdin?: string;
  workdir?: string;
  files?: string;
  out?: string;
  image?: string;
  net?: string;
  allow: string[];
  deny: string[];
  netLog?: boolean;
  logNetwork?: boolean;
  install: string[];
  caCert: string[];
  pipIndexUrl?: string;
  npmRegistry?: string;
  seccomp?: string;
  seccompProfile?: string;
  ociRuntime?: string;
  host?: string;
  key?: string;
  sessionId?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerRun(program: Command): void {
  program
    .command("run")
    .description(
      "Run code in a sandbox: --eval CODE, a FILE (runtime from its extension), or code piped on stdin",
    )
    .argument("[file]", "file to run (.py .js .mjs .cjs .ts .mts .sh)")
    .option("-e, --eval <code>", "inline code to run (python unless --runtime says otherwise)")
    .option("--cmd <command>", "run a bash command in the runtime's image instead of code")
    .option("--url <url>", "fetch the code to run from this URL (config remoteCode must enable it)")
    .option("--github <owner/repo/ref/path>", "fetch the code from raw.githubusercontent.com")
    .option("--gist <[owner/]id/file>", "fetch the code from gist.githubusercontent.com")
    .option("--hash <sha256>", "with --url/--github/--gist: refuse code whose SHA-256 differs")
    .option(
      "--allow-insecure-code-url",
      "with --url: permit an http:// URL (config remoteCode.allowedSchemes must list http)",
    )
    .option(
      "-r, --runtime <name>",
      `${orList(RUNTIMES)} (default: from the file extension, else python)`,
    )
    .option("--no-stream", "print output when the program ends instead of as it is produced")
    .option("--json", "print the whole result as JSON (implies --no-stream)")
    .option(
      "--persist",
      "keep the container running after the run, for debugging with docker exec",
      false,
    )
    .option(
      "--persistent",
      "one persistent container for the whole command: setup, installs and program share it (engine mode persistent)",
      false,
    )
    .option("--debug", "log the engine's internal steps with timings to stderr", false)
    .option("--timeout <ms>", "kill the run after this many milliseconds", "30000")
    .option("--memory <size>", "memory limit, e.g. 512m or 1g (no swap on top)", "512m")
    .option("--cpu <cores>", "CPU limit in cores, e.g. 0.5", "1")
    .option("--pids-limit <n>", "maximum processes and threads", "64")
    .option("--sandbox-size <size>", "size of the /sandbox tmpfs", "512m")
    .option("--tmp-size <size>", "size of the /tmp tmpfs", "256m")
    .option("--writable", "make the root filesystem writable (it is read-only by default)", false)
    .option("--max-output <bytes>", "bytes of stdout and of stderr kept (each)", "1048576")
    .option(
      "--secret <KEY=VALUE>",
      "secret environment variable, masked as *** in output (repeatable)",
      collect,
      [],
    )
    .option("--stdin <data>", "data for the program's standard input")
    .option(
      "--workdir <dir>",
      "directory inside /sandbox the program (and --setup) starts in; created when missing",
    )
    .option(
      "--files <dir>",
      "copy this host directory into /sandbox (recursively; skips .git, node_modules, virtualenvs, caches)",
    )
    .option(
      "--setup <command|file>",
      "bash run before the program, in the same sandbox and timeout; a file's contents if it names one (repeatable)",
      collect,
      [],
    )
    .option("--out <file>", "write the program's stdout to this file instead of the terminal")
    .option("--image <name>", "run in this image instead of isol8:<runtime>")
    .option(
      "--net <mode>",
      "network: none, filtered (only through isol8's gateway, see --allow) or host",
      "none",
    )
    .option(
      "--allow <pattern>",
      "with --net filtered: a host the sandbox may reach, a regex matching the whole name; NAME:PORT for another port (repeatable; implies --net filtered)",
      collect,
      [],
    )
    .option(
      "--deny <pattern>",
      "with --net filtered: a host never to reach, even when allowed (repeatable)",
      collect,
      [],
    )
    .option("--net-log", "print the gateway's log of the run's connections (--net filtered)")
    .option("--log-network", "same as --net-log")
    .option(
      "--install <package>",
      "install a package before the run (repeatable); without --net, the run is filtered to the runtime's registry",
      collect,
      [],
    )
    .option(
      "--ca-cert <file>",
      "extra CA certificate (PEM) trusted inside the sandbox, for TLS-intercepting proxies (repeatable)",
      collect,
      [],
    )
    .option("--pip-index-url <url>", "pip index for --install (python), instead of PyPI")
    .option("--npm-registry <url>", "npm registry for --install (node, bun, deno)")
    .option("--seccomp <mode>", `system call filter: ${orList(SECCOMP_MODES)}`, "strict")
    .option("--seccomp-profile <file>", "seccomp profile (JSON) for --seccomp custom")
    .option("--oci-runtime <name>", "OCI runtime registered with Docker, e.g. runsc (gVisor)")
    .option("--config <file>", CONFIG_FLAG_HELP)
    .option("--host <url>", "run on this isol8 server (`isol8 serve`) instead of local Docker")
    .option(
      "--key <key>",
      "API key for --host (default: $ISOL8_API_KEY, else your `isol8 login` token)",
    )
    .option(
      "--session-id <id>",
      "with --host: run in this persistent session (created on first use)",
    )
    .action(async (file: string | undefined, flags: RunFlags, command: Command) => {
      if (flags.logNetwork) flags.netLog = true;
      process.exitCode = flags.host
        ? await remoteRunCommand(file, flags, command)
        : await runCommand(file, flags, command);
    });
}

const FLAG_FOR_OPTION: Record<string, string> = {
  memoryLimit: "--memory",
  cpuLimit: "--cpu",
  timeoutMs: "--timeout",
  pidsLimit: "--pids-limit",
  sandboxSize: "--sandbox-size",
  tmpSize: "--tmp-size",
  maxOutputSize: "--max-output",
  secrets: "--secret",
  network: "--net",
  "security.seccomp": "--seccomp",
  "security.customProfilePath": "--seccomp-profile",
  ociRuntime: "--oci-runtime",
  "networkFilter.whitelist": "--allow",
  "networkFilter.blacklist": "--deny",
  "registries.pip": "--pip-index-url",
  "registries.npm": "--npm-registry",
  caCertificates: "--ca-cert",
  workdir: "--workdir",
  files: "--files",
  filesBase64: "--files",
};

function number(flag: string, value: string | undefined, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new CliError(
      `${flag}: "${value}" is not a positive ${integer ? "whole number" : "number"}`,
    );
  }
  return n;
}

function parseSecrets(pairs: string[]): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CliError(`--secret: "${pair}" is not KEY=VALUE`);
    secrets[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return secrets;
}

/** Engine options whose value may come from a flag or from the configuration file, and that flag. */
const CONFIGURABLE: [keyof DockerIsol8Options, keyof RunFlags][] = [
  ["network", "net"],
  ["timeoutMs", "timeout"],
  ["memoryLimit", "memory"],
  ["cpuLimit", "cpu"],
  ["pidsLimit", "pidsLimit"],
  ["sandboxSize", "sandboxSize"],
  ["tmpSize", "tmpSize"],
  ["readonlyRootFs", "writable"],
  ["maxOutputSize", "maxOutput"],
  ["ociRuntime", "ociRuntime"],
];

/** Flags the user typed win, then the configuration file, then the flags' defaults. */
function localOptions(flags: RunFlags, command: Command, runtime: Runtime): DockerIsol8Options {
  const fromFlags = engineOptions(flags);
  const { config } = cliConfig(flags.config);
  const fromConfig = configEngineOptions(config);
  const given = (flag: keyof RunFlags) => command.getOptionValueSource(flag) === "cli";
  const merged: Record<string, unknown> = { ...fromFlags };
  for (const [option, flag] of CONFIGURABLE) {
    if (!given(flag) && fromConfig[option] !== undefined) merged[option] = fromConfig[option];
  }
  const registries = { ...config.registries, ...fromFlags.registries };
  if (Object.keys(registries).length) merged.registries = registries;
  const installFor = flags.install.length ? { runtime, registries } : undefined;
  Object.assign(
    merged,
    networkChoice(flags, given, config, merged.network as NetworkMode, installFor),
  );
  merged.security = {
    seccomp: given("seccomp") ? flags.seccomp : (config.security?.seccomp ?? flags.seccomp),
    customProfilePath: given("seccompProfile")
      ? flags.seccompProfile
      : config.security?.customProfilePath,
    compatAbis: config.security?.compatAbis,
  };
  return merged as DockerIsol8Options;
}

/**
 * The run's network and filter. A mode the user chose (flag or file) is never
 * changed; without one, --allow/--deny mean `filtered`, and so does --install,
 * with the runtime's registry as the only allowed host.
 */
function networkChoice(
  flags: RunFlags,
  given: (flag: keyof RunFlags) => boolean,
  config: Isol8Config,
  chosen: NetworkMode,
  install: { runtime: Runtime; registries: PackageRegistries } | undefined,
): Pick<DockerIsol8Options, "network" | "networkFilter" | "caCertificates"> {
  const modeChosen = given("net") || config.defaults?.network !== undefined;
  const rules = flags.allow.length > 0 || flags.deny.length > 0;
  const network: NetworkMode = modeChosen || !(rules || install) ? chosen : "filtered";
  // Filtered only because of --install: the registry is the one host the run may reach.
  const registryOnly = network === "filtered" && !modeChosen && !rules && install;
  if (rules && network !== "filtered")
    throw new CliError(`--allow/--deny: need --net filtered (the network is ${network})`);
  if (flags.netLog && network !== "filtered")
    throw new CliError(`--net-log: needs --net filtered (the network is ${network})`);
  const fromConfig = config.network ?? {};
  const caFiles = flags.caCert.length ? flags.caCert : (fromConfig.caCertificates ?? []);
  const caCertificates = caFiles.map((path) =>
    readCertificate(path, flags.caCert.length ? "--ca-cert" : "network.caCertificates"),
  );
  if (network !== "filtered")
    return { network, ...(caCertificates.length ? { caCertificates } : {}) };
  return {
    network,
    networkFilter: {
      // Each flag replaces its own key of the file only: --allow alone keeps network.blacklist.
      whitelist: registryOnly
        ? registryRules(install.runtime, install.registries)
        : flags.allow.length
          ? flags.allow
          : (fromConfig.whitelist ?? []),
      blacklist: flags.deny.length ? flags.deny : (fromConfig.blacklist ?? []),
      ...(fromConfig.ports ? { ports: fromConfig.ports } : {}),
    },
    ...(caCertificates.length ? { caCertificates } : {}),
  };
}

function readCertificate(path: string, field: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new CliError(
      `${field}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
}

function engineOptions(flags: RunFlags): DockerIsol8Options {
  const network = flags.net ?? "none";
  if (!isOneOf(NETWORK_MODES, network))
    throw new CliError(`--net: "${network}" is not one of ${NETWORK_MODES.join(", ")}`);
  const registries = {
    ...(flags.pipIndexUrl ? { pip: flags.pipIndexUrl } : {}),
    ...(flags.npmRegistry ? { npm: flags.npmRegistry } : {}),
  };
  return {
    network: network as NetworkMode,
    ...(network === "filtered"
      ? { networkFilter: { whitelist: flags.allow, blacklist: flags.deny } }
      : {}),
    ...(flags.netLog ? { logNetwork: true } : {}),
    ...(Object.keys(registries).length ? { registries } : {}),
    timeoutMs: number("--timeout", flags.timeout, true),
    memoryLimit: flags.memory,
    cpuLimit: number("--cpu", flags.cpu, false),
    pidsLimit: number("--pids-limit", flags.pidsLimit, true),
    sandboxSize: flags.sandboxSize,
    tmpSize: flags.tmpSize,
    readonlyRootFs: !flags.writable,
    maxOutputSize: number("--max-output", flags.maxOutput, true),
    secrets: parseSecrets(flags.secret),
    image: flags.image,
    persist: flags.persist ?? false,
    mode: flags.persistent ? "persistent" : "ephemeral",
    debug: flags.debug ?? false,
    security: {
      seccomp: flags.seccomp as NonNullable<DockerIsol8Options["security"]>["seccomp"],
      customProfilePath: flags.seccompProfile,
    },
    ociRuntime: flags.ociRuntime,
    // One execution per process: a pool of ready containers would only be thrown away.
    poolSize: { clean: 0, dirty: 0 },
  };
}

/** Names the flag the user typed, not the library option behind it. */
function inFlagTerms(error: unknown): unknown {
  if (!(error instanceof InvalidOptionError)) return error;
  const field = error.message.split(":")[0] ?? "";
  const flag = FLAG_FOR_OPTION[field.replace(/\[\d+\]$/, "")];
  return flag ? new CliError(`${flag}${error.message.slice(field.length)}`) : error;
}

/** `--setup` values, in order, as one bash script: a value naming a file stands for its contents. */
async function setupScript(values: string[]): Promise<string | undefined> {
  if (!values.length) return undefined;
  const parts = await Promise.all(
    values.map(async (value) => {
      const info = await stat(value).catch(() => undefined);
      return info?.isFile() ? readFile(value, "utf8") : value;
    }),
  );
  // Each part must succeed for the next to run, as if they were one script with `set -e`.
  return parts.map((part) => `(\n${part}\n) || exit $?`).join("\n");
}

async function buildRequest(file: string | undefined, flags: RunFlags): Promise<ExecutionRequest> {
  const setup = await setupScript(flags.setup);
  const dir = flags.files === undefined ? undefined : await readFilesDir(flags.files);
  const base = {
    stdin: flags.stdin,
    ...(flags.workdir !== undefined ? { workdir: flags.workdir } : {}),
    ...(dir && Object.keys(dir.files).length ? { files: dir.files } : {}),
    ...(dir && Object.keys(dir.filesBase64).length ? { filesBase64: dir.filesBase64 } : {}),
    ...(setup ? { setupScript: setup } : {}),
    ...(flags.install.length ? { installPackages: flags.install } : {}),
  };
  const remote = remoteCodeSource(flags);
  if (flags.cmd !== undefined) {
    if (flags.eval !== undefined || file !== undefined || remote)
      throw new CliError("give --cmd alone, without --eval, a file, --url, --github or --gist");
    const runtime = flags.runtime ?? "bash";
    return { ...base, runtime: runtime as ExecutionRequest["runtime"], cmd: flags.cmd };
  }
  const input = await resolveCodeInput({
    eval: flags.eval,
    file,
    remote,
    runtime: flags.runtime,
    readStdin: async () => Buffer.from(await text(process.stdin), "utf8"),
    stdinIsTerminal: process.stdin.isTTY === true,
  });
  return { ...base, ...input };
}

function exitCodeFor(result: ExecutionSummary): number {
  if (result.installFailed) return EXIT.installFailed;
  if (result.timedOut) return EXIT.timeout;
  if (result.oomKilled) return EXIT.outOfMemory;
  return result.exitCode;
}

async function runCommand(
  file: string | undefined,
  flags: RunFlags,
  command: Command,
): Promise<number> {
  if (flags.key !== undefined || flags.sessionId !== undefined) {
    return reportError(new CliError("--key and --session-id need --host"));
  }
  if (flags.persist && flags.persistent) {
    return reportError(
      new CliError(
        "--persist and --persistent: give one (a --persistent container lives as long as the command)",
      ),
    );
  }
  let engine: DockerIsol8 | undefined;
  const interrupt = () => {
    // Ctrl-C: remove what this run created, then leave with the shell's convention.
    void (engine?.stop() ?? Promise.resolve()).finally(() => exitWhenFlushed(130));
  };
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  try {
    const request = await buildRequest(file, flags);
    const options = localOptions(flags, command, request.runtime);
    engine = new DockerIsol8(options);
    return await printRun(engine, request, flags);
  } catch (error) {
    return reportError(inFlagTerms(error), flags.debug);
  } finally {
    // No engine.stop() here: every container of the run has been told to quit
    // and Docker's AutoRemove deletes it; waiting for that would only delay
    // the user. main.ts exits the process once output is flushed.
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
  }
}

/** Where a run executes: the local engine or an isol8 server; the CLI treats both alike. */
interface Executor {
  executeStream(request: ExecutionRequest): AsyncIterable<StreamEvent>;
}

/**
 * Runs the request and prints it as the flags ask (streamed, buffered or as
 * JSON; stdout to --out), returning the exit code `isol8 run` should have.
 */
async function printRun(
  executor: Executor,
  request: ExecutionRequest,
  flags: RunFlags,
): Promise<number> {
  const out = flags.out ? createWriteStream(flags.out) : undefined;
  try {
    const stdout = out ?? process.stdout;
    const buffered = flags.json || !flags.stream;
    // Streamed, output is printed as it comes; buffered, it is held until the
    // end and shown as `execute()` shows it (a setup's output only when the
    // setup failed). Notices (timeout, OOM, truncation) arrive as error events either way.
    const collector = new ResultCollector();
    for await (const event of executor.executeStream(request)) {
      if (buffered || event.type === "exit") collector.add(event);
      else if (event.type === "error") process.stderr.write(`isol8: ${event.data}\n`);
      // The installer's chatter is isol8's, not the program's: it never lands in stdout.
      else if (event.type === "stderr" || event.phase === "install")
        await writeOut(process.stderr, event.data);
      else await writeOut(stdout, event.data);
      if (event.type === "exit") {
        const result = collector.result();
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          out?.write(result.stdout);
        } else if (buffered) {
          stdout.write(result.stdout);
          process.stderr.write(result.stderr);
          for (const notice of collector.notices) process.stderr.write(`isol8: ${notice}\n`);
        }
        if (!flags.json)
          for (const line of result.networkLogs ?? [])
            process.stderr.write(`${formatNetLog(line)}\n`);
        return exitCodeFor(result);
      }
    }
    throw new CliError("the run ended without an exit status", EXIT.isol8Error);
  } finally {
    if (out) {
      out.end();
      await once(out, "close").catch(() => undefined);
    }
  }
}

/** Writes a chunk, waiting when the reader is behind so that output never piles up in memory. */
async function writeOut(stream: NodeJS.WritableStream, data: string): Promise<void> {
  if (!stream.write(data)) await once(stream, "drain");
}

/** One line of `--net-log`: `isol8 net: ALLOW CONNECT pypi.org:443 120 ms 5120 B in 812 B out`. */
function formatNetLog(entry: NetworkLogEntry): string {
  const target = `${entry.host}:${entry.port}${entry.path ?? ""}`;
  const outcome =
    entry.action === "BLOCK"
      ? `(${entry.reason ?? "blocked"})`
      : `${entry.durationMs} ms ${entry.bytesIn} B in ${entry.bytesOut} B out${entry.reason ? ` (${entry.reason})` : ""}`;
  return `isol8 net: ${entry.action} ${entry.method} ${target} ${outcome}`;
}

/** Flags that mean something only on this machine, refused with --host. */
const LOCAL_ONLY = [
  "persist",
  "persistent",
  "ociRuntime",
  "seccompProfile",
  "caCert",
  "pipIndexUrl",
  "npmRegistry",
] as const;

/** Engine flags the user typed (not defaulted), as server options: the server's defaults apply to the rest. */
function remoteOptions(flags: RunFlags, command: Command): RemoteIsol8Options {
  for (const name of LOCAL_ONLY) {
    if (command.getOptionValueSource(name) === "cli") {
      const flag = `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new CliError(`${flag} is not available with --host`);
    }
  }
  const given = (name: keyof RunFlags) => command.getOptionValueSource(name) === "cli";
  const local = engineOptions(flags);
  const options: RemoteIsol8Options = {};
  if (given("net")) options.network = local.network;
  if (flags.allow.length || flags.deny.length) {
    if (given("net") && local.network !== "filtered")
      throw new CliError(`--allow/--deny: need --net filtered (the network is ${local.network})`);
    options.network = "filtered";
    options.networkFilter = { whitelist: flags.allow, blacklist: flags.deny };
  }
  if (flags.netLog) options.logNetwork = true;
  if (given("timeout")) options.timeoutMs = local.timeoutMs;
  if (given("memory")) options.memoryLimit = local.memoryLimit;
  if (given("cpu")) options.cpuLimit = local.cpuLimit;
  if (given("pidsLimit")) options.pidsLimit = local.pidsLimit;
  if (given("sandboxSize")) options.sandboxSize = local.sandboxSize;
  if (given("tmpSize")) options.tmpSize = local.tmpSize;
  if (given("writable")) options.readonlyRootFs = false;
  if (given("maxOutput")) options.maxOutputSize = local.maxOutputSize;
  if (flags.secret.length) options.secrets = local.secrets;
  if (given("image")) options.image = local.image;
  if (given("seccomp")) options.security = { seccomp: local.security?.seccomp };
  return options;
}

/** `isol8 run --host`: the same input and output as a local run, executed by an isol8 server. */
async function remoteRunCommand(
  file: string | undefined,
  flags: RunFlags,
  command: Command,
): Promise<number> {
  // Ctrl-C closes the connection, and the server kills the run.
  const interrupt = () => void exitWhenFlushed(130);
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  try {
    const options = remoteOptions(flags, command);
    const request = await buildRequest(file, flags);
    const remote = await remoteFromFlags(flags, flags.sessionId, options);
    return await printRun(remote, request, flags);
  } catch (error) {
    return reportError(remoteErrorForCli(inFlagTerms(error)), flags.debug);
  } finally {
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
  }
}
