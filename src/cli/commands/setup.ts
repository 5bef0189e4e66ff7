import type { Command } from "commander";
import { assertDockerReachable, createDockerClient } from "../../engine/docker-client.js";
import { isRuntime, type Runtime } from "../../runtimes/index.js";
import { CliError } from "../exit-codes.js";
import { reportError } from "../report-error.js";

interface SetupFlags {
  runtime: string[];
  force?: boolean;
  caCert: string[];
  json?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerSetup(program: Command): void {
  program
    .command("setup")
    .description(
      "Check Docker and build the sandbox images (a second run rebuilds only what changed)",
    )
    .option(
      "-r, --runtime <name>",
      "build only this runtime's image (repeatable; default: all five)",
      collect,
      [],
    )
    .option("--force", "rebuild even when nothing changed", false)
    .option(
      "--ca-cert <file>",
      "extra CA certificates (PEM) to trust in the images (repeatable; default: $SSL_CERT_FILE when set)",
      collect,
      [],
    )
    .option("--json", "print the report as JSON", false)
    .action(async (flags: SetupFlags) => {
      process.exitCode = await setupCommand(flags);
    });
}

function formatMB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

async function setupCommand(flags: SetupFlags): Promise<number> {
  try {
    const runtimes = flags.runtime.map((name): Runtime => {
      if (!isRuntime(name))
        throw new CliError(`--runtime: "${name}" is not one of python, node, bun, deno, bash`);
      return name;
    });
    const docker = createDockerClient();
    await assertDockerReachable(docker);
    const { setupImages } = await import("../../images/index.js");
    const reports = await setupImages(docker, {
      runtimes: runtimes.length ? runtimes : undefined,
      force: flags.force,
      caCertificateFiles: flags.caCert.length ? flags.caCert : undefined,
      onProgress: (line) => process.stderr.write(`${line}\n`),
    });
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
    } else {
      const width = Math.max(...reports.map((r) => r.image.length));
      for (const r of reports) {
        process.stdout.write(
          `${r.image.padEnd(width)}  ${r.status.padEnd(10)} ${formatMB(r.sizeBytes).padStart(7)} ${r.seconds.toFixed(1).padStart(6)}s\n`,
        );
      }
    }
    return 0;
  } catch (error) {
    return reportError(error);
  }
}
