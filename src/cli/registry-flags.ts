import type { Command } from "commander";
import type { Isol8Config } from "../config/file.js";
import type { PackageRegistries } from "../images/packages.js";

/** The flags naming the package indexes an image build installs from. */
export interface RegistryFlags {
  pipIndexUrl?: string;
  npmRegistry?: string;
}

/** Adds `--pip-index-url` and `--npm-registry` to an image-building command (`setup`, `build`). */
export function addRegistryFlags(command: Command): Command {
  return command
    .option(
      "--pip-index-url <url>",
      "install python packages from this PEP 503 index (default: the config file's registries.pip, else PyPI)",
    )
    .option(
      "--npm-registry <url>",
      "install node, bun and deno packages from this npm registry (default: the config file's registries.npm, else npmjs)",
    );
}

/** Per index: the flag, else the config file's `registries`; absent when neither names one. */
export function chosenRegistries(flags: RegistryFlags, config: Isol8Config): PackageRegistries {
  const registries: PackageRegistries = {};
  const pip = flags.pipIndexUrl ?? config.registries?.pip;
  const npm = flags.npmRegistry ?? config.registries?.npm;
  if (pip !== undefined) registries.pip = pip;
  if (npm !== undefined) registries.npm = npm;
  return registries;
}
