import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, cleanEnv } from "./cli.js";

/** A running `isol8 serve` started by a test. */
export interface ServedCli {
  url: string;
  child: ChildProcessWithoutNullStreams;
  /** What it has printed on stderr so far. */
  stderr(): string;
  /** SIGTERM, and wait until it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts the built CLI's `isol8 serve` on 127.0.0.1 (a free port) with this
 * master key and small pools, in `env`, with `extraArgs` after its own;
 * `config` adds keys to its configuration file.
 */
export async function serveCli(
  key: string,
  env: Record<string, string> = cleanEnv(),
  extraArgs: string[] = [],
  config: Record<string, unknown> = {},
): Promise<ServedCli> {
  const dir = mkdtempSync(join(tmpdir(), "isol8-e2e-serve-"));
  const configFile = join(dir, "config.json");
  writeFileSync(
    configFile,
    JSON.stringify({ engines: { poolSize: { clean: 1, dirty: 1 } }, ...config }),
  );
  const args = ["serve", "--bind", "127.0.0.1", "--port", "0", "--key", key];
  args.push("--db", join(dir, "server.db"), "--config", configFile, ...extraArgs);
  const child = spawn(process.execPath, [CLI, ...args], {
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then(() => reject(new Error(`isol8 serve exited: ${err}`)));
  });
  return {
    url,
    child,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}
