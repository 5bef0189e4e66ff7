// The built CLI run as a child process, in an environment like a new user's.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CLI = new URL("../../dist/cli/isol8.mjs", import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
}

/** A clean environment, as a new user's shell would have: no host secrets, a fresh HOME. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: mkdtempSync(join(tmpdir(), "isol8-home-")),
  };
  if (process.env.DOCKER_HOST) env.DOCKER_HOST = process.env.DOCKER_HOST;
  return { ...env, ...extra };
}

/**
 * A directory holding a stand-in `runc` that prints `versionText` (whatever
 * its arguments), to put first on PATH where a command checks the host's runc.
 */
export function standInRunc(versionText: string): string {
  const dir = mkdtempSync(join(tmpdir(), "isol8-runc-"));
  writeFileSync(join(dir, "version.txt"), versionText);
  writeFileSync(join(dir, "runc"), '#!/bin/sh\nexec cat "$(dirname "$0")/version.txt"\n');
  chmodSync(join(dir, "runc"), 0o755);
  return dir;
}

/** How a test starts a command: its input, environment and working directory. */
export interface SpawnOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  cwd?: string;
  onSpawn?: (pid: number) => void;
}

/** Runs a command as a child process (clean environment by default) and collects what it printed. */
export function spawnCollect(
  command: string,
  args: string[],
  options: SpawnOptions = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? cleanEnv(),
      cwd: options.cwd,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.on("spawn", () => options.onSpawn?.(child.pid ?? 0));
    child.on("close", (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        pid: child.pid ?? 0,
      }),
    );
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

/** Runs the built CLI as a child process and collects what it printed. */
export function isol8(args: string[], options: SpawnOptions = {}): Promise<CliResult> {
  return spawnCollect(process.execPath, [CLI, ...args], options);
}

/**
 * A fresh environment (see cleanEnv) whose user has trusted the
 * isol8.config.json in `cwd` with `isol8 config trust`, as a project file
 * that widens what isol8 allows needs.
 */
export async function envTrusting(cwd: string, extra: Record<string, string> = {}) {
  const env = cleanEnv(extra);
  const trusted = await isol8(["config", "trust"], { cwd, env });
  if (trusted.code !== 0) throw new Error(`isol8 config trust: ${trusted.stderr}`);
  return env;
}

/** The result, once asserted that the command exited 0 (its stderr is the message if not). */
export function ok(result: CliResult): CliResult {
  assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}`);
  return result;
}

/** The last line a command printed on stderr (its one-line error). */
export function lastLine(stderr: string): string {
  return (
    stderr
      .split("\n")
      .filter((line) => line.length > 0)
      .at(-1) ?? ""
  );
}

/** What `isol8 build --json` prints. */
export interface BuildReport {
  image: string;
  runtime: string;
  status: string;
  sizeBytes: number;
  seconds: number;
  packages: string[];
}
