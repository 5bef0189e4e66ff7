/**
 * Checks of what callers pass to sandboxes, commands and terminals: each
 * bad value is an InvalidOptionError naming the field and the problem,
 * before anything reaches the sandbox. Pure: no I/O.
 */
import { InvalidOptionError } from "../engine/errors.js";
import { assertEnvName, envSizeProblem, MAX_ARG_BYTES } from "../engine/options.js";
import { isRuntime, notARuntime, type Runtime } from "../runtimes/index.js";
import type { TerminalSize } from "./process-protocol.js";
import type { CommandOptions, CreateSandboxOptions, PtyOptions } from "./types.js";

/** A sandbox's life: 5 minutes unless asked, from 1 s to 24 h. */
const SANDBOX_TIMEOUT = { defaultMs: 300_000, minMs: 1_000, maxMs: 86_400_000 } as const;
/** The default process limit of a long-lived sandbox (see CreateSandboxOptions.pidsLimit). */
export const SANDBOX_PIDS_LIMIT = 512;
const MAX_PIDS_LIMIT = 32_768;
const MAX_METADATA_ENTRIES = 64;
const MAX_METADATA_BYTES = 16 * 1024;
const MAX_ARGS = 256;
const MAX_TERMINAL_CELLS = 4096;
/** Variables a process can be started with (MAX_ENV in sandbox/supervisor.h, which ends the sandbox past it). */
const MAX_PROCESS_ENV = 1024;

function fail(message: string): never {
  throw new InvalidOptionError(message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function wholeNumber(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    fail(`${field}: ${JSON.stringify(value)} is not a whole number from ${min} to ${max}`);
  return value;
}

/** A lifetime in ms for `timeoutMs` or `setTimeout`. */
export function sandboxTimeout(field: string, value: unknown): number {
  if (value === undefined) return SANDBOX_TIMEOUT.defaultMs;
  return wholeNumber(field, value, SANDBOX_TIMEOUT.minMs, SANDBOX_TIMEOUT.maxMs);
}

function stringRecord(field: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (!isRecord(value)) fail(`${field}: must be an object of strings`);
  for (const [key, entry] of Object.entries(value))
    if (typeof entry !== "string") fail(`${field}.${key}: must be a string`);
  return { ...(value as Record<string, string>) };
}

/** An environment: valid names, strings, within the size a program can start with. */
export function environment(field: string, value: unknown): Record<string, string> {
  const env = stringRecord(field, value);
  for (const [name, entry] of Object.entries(env)) {
    assertEnvName(field, name);
    if (entry.includes("\0")) fail(`${field}.${name}: must not contain a NUL character`);
  }
  const problem = envSizeProblem(field, env);
  if (problem) fail(problem);
  return env;
}

/**
 * A process's whole environment, `own` over `inherited` (what the engine and
 * the sandbox give every process), checked for the count the supervisor can
 * start a process with: a request past it is refused here, naming `field`.
 */
export function processEnvironment(
  field: string,
  inherited: Readonly<Record<string, string>>,
  own: Readonly<Record<string, string>>,
): Record<string, string> {
  const env = { ...inherited, ...own };
  const count = Object.keys(env).length;
  if (count > MAX_PROCESS_ENV)
    fail(
      `${field}: ${count} variables (with the ${Object.keys(inherited).length} every process of the sandbox has) is more than the limit of ${MAX_PROCESS_ENV} a process starts with`,
    );
  return env;
}

function metadata(value: unknown): Record<string, string> {
  const entries = stringRecord("metadata", value);
  const count = Object.keys(entries).length;
  if (count > MAX_METADATA_ENTRIES)
    fail(`metadata: ${count} entries is more than the limit of ${MAX_METADATA_ENTRIES}`);
  const bytes = Buffer.byteLength(JSON.stringify(entries));
  if (bytes > MAX_METADATA_BYTES)
    fail(`metadata: ${bytes} bytes is larger than the limit of ${MAX_METADATA_BYTES} bytes`);
  return entries;
}

/** CreateSandboxOptions with every default filled in. */
export interface SandboxSettings {
  runtime: Runtime;
  env: Record<string, string>;
  metadata: Record<string, string>;
  timeoutMs: number;
  pidsLimit: number;
}

export function sandboxSettings(options: CreateSandboxOptions | undefined): SandboxSettings {
  const given: unknown = options ?? {};
  if (!isRecord(given)) fail("options: must be an object");
  const known = new Set(["runtime", "env", "metadata", "timeoutMs", "pidsLimit"]);
  for (const key of Object.keys(given))
    if (!known.has(key)) fail(`${key}: not an option of createSandbox (${[...known].join(", ")})`);
  const runtime = given.runtime ?? "python";
  if (typeof runtime !== "string" || !isRuntime(runtime))
    fail(notARuntime("runtime", String(runtime)));
  return {
    runtime,
    env: environment("env", given.env),
    metadata: metadata(given.metadata),
    timeoutMs: sandboxTimeout("timeoutMs", given.timeoutMs),
    pidsLimit:
      given.pidsLimit === undefined
        ? SANDBOX_PIDS_LIMIT
        : wholeNumber("pidsLimit", given.pidsLimit, 1, MAX_PIDS_LIMIT),
  };
}

/** A command as argv: a string runs in bash (`bash -c`), an array as it is. */
export function commandArgv(field: string, cmd: unknown): string[] {
  if (typeof cmd === "string") {
    if (cmd.trim() === "") fail(`${field}: must not be empty`);
    if (cmd.includes("\0")) fail(`${field}: must not contain a NUL character`);
    if (Buffer.byteLength(cmd) > MAX_ARG_BYTES)
      fail(
        `${field}: ${Buffer.byteLength(cmd)} bytes is larger than the limit of ${MAX_ARG_BYTES} bytes`,
      );
    return ["/bin/bash", "-c", cmd];
  }
  if (!Array.isArray(cmd) || cmd.length === 0)
    fail(`${field}: must be a command string or a non-empty array of arguments`);
  if (cmd.length > MAX_ARGS)
    fail(`${field}: ${cmd.length} arguments is more than the limit of ${MAX_ARGS}`);
  cmd.forEach((arg, index) => {
    if (typeof arg !== "string") fail(`${field}[${index}]: must be a string`);
    if (arg.includes("\0")) fail(`${field}[${index}]: must not contain a NUL character`);
    if (Buffer.byteLength(arg) > MAX_ARG_BYTES)
      fail(`${field}[${index}]: is larger than the limit of ${MAX_ARG_BYTES} bytes`);
  });
  if (cmd[0] === "") fail(`${field}[0]: must name a program`);
  return [...cmd] as string[];
}

/** A working directory: an absolute path. */
export function workingDirectory(value: unknown): string {
  if (value === undefined) return "/sandbox";
  if (
    typeof value !== "string" ||
    !value.startsWith("/") ||
    value.includes("\0") ||
    value.length > 4096
  )
    fail(`cwd: ${JSON.stringify(value)} is not an absolute path`);
  return value;
}

/** A process's own timeout: 0 (none) or a whole number of ms up to a day. */
export function processTimeout(value: unknown): number {
  if (value === undefined) return 0;
  return wholeNumber("timeoutMs", value, 0, SANDBOX_TIMEOUT.maxMs);
}

function callback(field: string, value: unknown): void {
  if (value !== undefined && typeof value !== "function") fail(`${field}: must be a function`);
}

export function commandOptions(options: CommandOptions | undefined): CommandOptions {
  const given: unknown = options ?? {};
  if (!isRecord(given)) fail("options: must be an object");
  for (const name of ["background", "stdin"] as const)
    if (given[name] !== undefined && typeof given[name] !== "boolean")
      fail(`${name}: must be true or false`);
  callback("onStdout", given.onStdout);
  callback("onStderr", given.onStderr);
  return given as CommandOptions;
}

export function terminalSize(value: unknown): TerminalSize {
  if (!isRecord(value)) fail("size: must be an object with cols and rows");
  return {
    cols: wholeNumber("cols", value.cols, 1, MAX_TERMINAL_CELLS),
    rows: wholeNumber("rows", value.rows, 1, MAX_TERMINAL_CELLS),
  };
}

export function ptyOptions(options: PtyOptions | undefined): PtyOptions {
  if (!isRecord(options)) fail("options: must be an object with cols and rows");
  terminalSize(options);
  callback("onData", options.onData);
  return options;
}
