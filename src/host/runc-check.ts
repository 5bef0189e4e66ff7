import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import {
  describeRunc,
  type HostRelease,
  missingRuncFixes,
  parseOsRelease,
  parseRuncVersion,
} from "./runc-advisories.js";

const run = promisify(execFile);

/** The command that checks: `serve` adds that the server has no runtime setting of its own. */
type RuncCheckCommand = "setup" | "serve";

/**
 * Runs the `runc` found on PATH with `--version` and returns a warning block
 * (lines ending in a newline, for stderr) naming the container-breakout CVEs
 * whose fixes it lacks, or undefined when it lacks none. A runc that is
 * missing, fails, hangs or prints something else is no warning: only
 * `debug`, when given, hears why.
 */
export async function runcWarning(
  command: RuncCheckCommand,
  debug?: (line: string) => void,
): Promise<string | undefined> {
  let output: string;
  try {
    output = (await run("runc", ["--version"], { timeout: 3000, maxBuffer: 64 * 1024 })).stdout;
  } catch (error) {
    debug?.(`runc check skipped: \`runc --version\` failed (${firstLine(error)})`);
    return undefined;
  }
  const version = parseRuncVersion(output);
  if (!version) {
    debug?.("runc check skipped: `runc --version` printed no version isol8 understands");
    return undefined;
  }
  const host = await hostRelease();
  const missing = missingRuncFixes(version, host);
  if (missing.length === 0) {
    debug?.(`runc check: ${describeRunc(version, host)} has every fix isol8 checks for`);
    return undefined;
  }
  const lines = [
    "WARNING: the host's runc lacks fixes for container-breakout vulnerabilities:",
    ...missing.map((fix) => `  ${fix.id} (${fix.severity}): ${fix.reason}`),
    `That is ${describeRunc(version, host)}, the runc on PATH.`,
    "Sandboxes on Docker's default runtime rely on it. Update runc, or run sandboxes under",
    "gVisor, which does not use runc: scripts/install-gvisor.sh, then `isol8 run --oci-runtime runsc`",
    'or "defaults": { "ociRuntime": "runsc" } in the config file (see SECURITY.md, "gVisor").',
    ...(command === "serve"
      ? [
          "isol8 serve has no runtime setting: its sandboxes always use runc, so only an update helps.",
        ]
      : []),
  ];
  return lines.map((line) => `isol8 ${command}: ${line}\n`).join("");
}

async function hostRelease(): Promise<HostRelease | undefined> {
  try {
    return parseOsRelease(await readFile("/etc/os-release", "utf8"));
  } catch {
    return undefined;
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0] ?? text;
}
