import type { Command } from "commander";
import { assertDockerReachable, createDockerClient } from "../../backend/docker/client.js";
import { ImageInputError } from "../../images/errors.js";
import type { PackageRegistries } from "../../images/packages.js";
import { orList } from "../../one-of.js";
import { isRuntime, notARuntime, RUNTIMES } from "../../runtimes/index.js";
import { completeWith } from "../completion/spec.js";
import { CONFIG_FLAG_HELP, cliConfig } from "../config-files.js";
import { addExamples } from "../examples.js";
import { CliError } from "../exit-codes.js";
import { addRegistryFlags, chosenRegistries, type RegistryFlags } from "../registry-flags.js";
import { reportError } from "../report-error.js";

interface BuildFlags extends RegistryFlags {
  base: string;
  install?: string[];
  setup?: string[];
  tag?: string;
  force?: boolean;
  json?: boolean;
  config?: string;
}

export function registerBuild(program: Command): void {
  const command = program
    .command("build")
    .description(
      "Build a custom image FROM isol8:<runtime> with packages installed and setup commands run; prints its tag (use it with `isol8 run --image`)",
    )
    .requiredOption("--base <runtime>", `the runtime image to start from: ${orList(RUNTIMES)}`)
    .option(
      "--install <packages...>",
      "packages to install with the runtime's installer (pip, npm, bun add, deno install npm:, apt-get); comma-separated or several, repeatable",
    )
    .option(
      "--setup <commands...>",
      "commands run at build time after the packages, as root, in order (bash -c each); repeatable",
    )
    .option(
      "--tag <name>",
      "tag of the image (default: isol8-custom:<first 16 hex of the inputs hash>)",
    )
    .option("--force", "rebuild even when an image built from the same inputs exists");
  addRegistryFlags(command)
    .option(
      "--json",
      "print {image, runtime, status, sizeBytes, seconds, packages} as JSON instead of the tag",
    )
    .option("--config <file>", CONFIG_FLAG_HELP)
    .action(async (flags: BuildFlags) => {
      process.exitCode = await buildCommand(flags);
    });
  addExamples(command, [
    { line: "isol8 build --base python --install requests", does: "prints a tag for run --image" },
    {
      line: "isol8 build --base node --install lodash --setup 'npm config list' --tag my-node",
      does: "packages, then a setup command, under your own tag",
    },
    { line: "isol8 run --image my-node -e 'console.log(1)' --runtime node", does: "run in it" },
  ]);
  completeWith(command, "--base", RUNTIMES);
}

async function buildCommand(flags: BuildFlags): Promise<number> {
  try {
    const runtime = flags.base;
    if (!isRuntime(runtime)) {
      throw new CliError(notARuntime("--base", runtime));
    }
    const images = await import("../../images/index.js");
    const { config } = cliConfig(flags.config);
    const registries: PackageRegistries = {};
    for (const [kind, url] of Object.entries(chosenRegistries(flags, config)))
      registries[kind as keyof PackageRegistries] = images.checkRegistryUrl(
        kind as keyof PackageRegistries,
        url,
      );
    const request = {
      runtime,
      packages: (flags.install ?? []).flatMap(images.splitPackageList),
      setup: flags.setup ?? [],
      tag: flags.tag,
      registries,
      force: flags.force ?? false,
      onProgress: (line: string) => process.stderr.write(`${line}\n`),
    };
    // Bad input is refused before Docker is asked anything.
    images.checkCustomImageRequest(request);

    const docker = createDockerClient();
    await assertDockerReachable(docker);
    const report = await images.buildCustomImage(docker, request);
    const { image, status, sizeBytes, seconds, packages } = report;
    if (flags.json) {
      process.stdout.write(
        `${JSON.stringify({ image, runtime, status, sizeBytes, seconds, packages }, null, 2)}\n`,
      );
    } else {
      const size = `${(sizeBytes / 1024 / 1024).toFixed(0)} MB`;
      process.stderr.write(
        status === "up-to-date"
          ? `[${image}] up to date (built from the same inputs; --force rebuilds)\n`
          : `[${image}] built in ${seconds.toFixed(1)}s (${size})\n`,
      );
      process.stdout.write(`${image}\n`);
    }
    return 0;
  } catch (error) {
    return reportError(error instanceof ImageInputError ? new CliError(error.message) : error);
  }
}
