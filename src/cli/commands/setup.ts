import type { Command } from "commander";
import { assertDockerReachable, createDockerClient } from "../../backend/docker/client.js";
import type { Isol8Config } from "../../config/file.js";
import { runcWarning } from "../../host/runc-check.js";
import { ImageInputError } from "../../images/errors.js";
import {
  type PackageLists,
  type PackageRegistries,
  splitPackageList,
} from "../../images/packages.js";
import { isRuntime, notARuntime, RUNTIMES, type Runtime } from "../../runtimes/index.js";
import { completeWith } from "../completion/spec.js";
import { CONFIG_FLAG_HELP, cliConfig } from "../config-files.js";
import { addExamples } from "../examples.js";
import { CliError } from "../exit-codes.js";
import { addRegistryFlags, chosenRegistries, type RegistryFlags } from "../registry-flags.js";
import { reportError } from "../report-error.js";

interface SetupFlags extends RegistryFlags {
  runtime?: string[];
  dataScience?: boolean;
  force?: boolean;
  caCert?: string[];
  json?: boolean;
  config?: string;
  python?: string[];
  node?: string[];
  bun?: string[];
  deno?: string[];
  bash?: string[];
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** What `--<runtime>` installs with, for the help text. */
const PACKAGE_FLAGS: Record<Runtime, string> = {
  python: "python packages to bake into isol8:python (pip requirement specifiers)",
  node: "npm packages to bake into isol8:node (importable from ESM and CommonJS)",
  bun: "npm packages to bake into isol8:bun (installed with bun add)",
  deno: "npm: packages to bake into isol8:deno (a bare name means npm:NAME)",
  bash: "Debian packages to bake into isol8:bash (apt-get)",
};

export function registerSetup(program: Command): void {
  const command = program
    .command("setup")
    .description(
      "Check Docker and build the sandbox images (a second run rebuilds only what changed)",
    )
    .option(
      "-r, --runtime <name>",
      "build only this runtime's image (repeatable; default: all five)",
      collect,
    )
    .option(
      "--data-science",
      "also build isol8:python-data: isol8:python with Debian's matplotlib, NumPy and pandas (about 1 GB; not built by default)",
    )
    .option("--force", "rebuild even when nothing changed")
    .option(
      "--ca-cert <file>",
      "extra CA certificates (PEM) to trust in the images (repeatable; default: $SSL_CERT_FILE when set)",
      collect,
    );
  for (const runtime of RUNTIMES) {
    command.option(
      `--${runtime} <packages>`,
      `${PACKAGE_FLAGS[runtime]}; comma-separated, repeatable (default: the config file's dependencies.${runtime})`,
      collect,
    );
  }
  addRegistryFlags(command)
    .option("--json", "print the report as JSON")
    .option("--config <file>", CONFIG_FLAG_HELP)
    .action(async (flags: SetupFlags) => {
      process.exitCode = await setupCommand(flags);
    });
  addExamples(command, [
    { line: "isol8 setup", does: "build every runtime's image (again only what changed)" },
    { line: "isol8 setup --runtime python --runtime node", does: "only these images" },
    { line: "isol8 setup --python numpy,requests", does: "bake packages into isol8:python" },
    {
      line: "isol8 setup --data-science",
      does: "also isol8:python-data (matplotlib, NumPy, pandas)",
    },
    { line: "isol8 setup --json", does: "the report as JSON" },
  ]);
  completeWith(command, "--runtime", RUNTIMES);
}

function formatMB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

/**
 * The packages and registries `isol8 setup` bakes: per runtime, the flags'
 * packages when any flag names some, else the config file's `dependencies`;
 * per index, the flag, else the config file's `registries`.
 */
export function bakeRequest(
  flags: Pick<SetupFlags, Runtime | "pipIndexUrl" | "npmRegistry">,
  config: Isol8Config,
): { packages: PackageLists; registries: PackageRegistries } {
  const packages: PackageLists = {};
  for (const runtime of RUNTIMES) {
    const fromFlags = (flags[runtime] ?? []).flatMap(splitPackageList);
    const chosen = fromFlags.length > 0 ? fromFlags : (config.dependencies?.[runtime] ?? []);
    if (chosen.length > 0) packages[runtime] = chosen;
  }
  return { packages, registries: chosenRegistries(flags, config) };
}

async function setupCommand(flags: SetupFlags): Promise<number> {
  try {
    const runtimes = (flags.runtime ?? []).map((name): Runtime => {
      if (!isRuntime(name)) throw new CliError(notARuntime("--runtime", name));
      return name;
    });
    for (const runtime of RUNTIMES) {
      if (flags[runtime] !== undefined && runtimes.length > 0 && !runtimes.includes(runtime)) {
        throw new CliError(
          `--${runtime}: the ${runtime} image is not being built (add --runtime ${runtime})`,
        );
      }
    }
    const images = await import("../../images/index.js");
    const { config } = cliConfig(flags.config);
    const { packages, registries } = bakeRequest(flags, config);
    for (const kind of ["pip", "npm"] as const) {
      const url = registries[kind];
      if (url !== undefined) images.checkRegistryUrl(kind, url);
    }
    for (const runtime of RUNTIMES) images.normalizePackages(runtime, packages[runtime] ?? []);

    // Setting up is when a host's weak runc is worth saying: stderr only, never a failure.
    const warning = await runcWarning("setup");
    if (warning) process.stderr.write(warning);
    const docker = createDockerClient();
    await assertDockerReachable(docker);
    const reports = await images.setupImages(docker, {
      runtimes: runtimes.length ? runtimes : undefined,
      variants: flags.dataScience ? ["python-data"] : undefined,
      force: flags.force,
      caCertificateFiles: flags.caCert?.length ? flags.caCert : undefined,
      onProgress: (line) => process.stderr.write(`${line}\n`),
      packages,
      registries,
    });
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
    } else {
      const width = Math.max(...reports.map((r) => r.image.length));
      for (const r of reports) {
        const baked = r.packages?.length
          ? `  + ${r.packages.length} package${r.packages.length === 1 ? "" : "s"}`
          : "";
        process.stdout.write(
          `${r.image.padEnd(width)}  ${r.status.padEnd(10)} ${formatMB(r.sizeBytes).padStart(7)} ${r.seconds.toFixed(1).padStart(6)}s${baked}\n`,
        );
      }
    }
    return 0;
  } catch (error) {
    return reportError(error instanceof ImageInputError ? new CliError(error.message) : error);
  }
}
