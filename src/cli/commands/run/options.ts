import { readFileSync } from "node:fs";
import { configEngineOptions, type Isol8Config } from "../../../config/file.js";
import { registryRules } from "../../../engine/installs.js";
import { DEFAULTS } from "../../../engine/options.js";
import type {
  DockerIsol8Options,
  NetworkMode,
  PackageRegistries,
  Runtime,
} from "../../../types.js";
import { CliError } from "../../exit-codes.js";
import { type RunFlags, typedOptions } from "./flags.js";

/**
 * The engine options of a local `isol8 run`: each value from its flag when
 * the user typed it, else from the configuration file, else left undefined
 * for the engine's default (`DEFAULTS` in src/engine/options.ts).
 */
export function localEngineOptions(
  flags: RunFlags,
  config: Isol8Config,
  runtime: Runtime,
): DockerIsol8Options {
  const typed = typedOptions(flags);
  const options: DockerIsol8Options = {
    ...configEngineOptions(config),
    ...typed,
    security: {
      seccomp: typed.security?.seccomp ?? config.security?.seccomp,
      customProfilePath: typed.security?.customProfilePath ?? config.security?.customProfilePath,
      compatAbis: config.security?.compatAbis,
    },
    // One execution per process: a pool of ready containers would only be thrown away.
    poolSize: { clean: 0, dirty: 0 },
  };
  const registries = { ...config.registries, ...typed.registries };
  if (Object.keys(registries).length) options.registries = registries;
  const installFor = flags.install?.length ? { runtime, registries } : undefined;
  return { ...options, ...networkChoice(flags, config, options.network, installFor) };
}

/**
 * The run's network and filter. A mode the user chose (flag or file) is never
 * changed; without one, --allow/--deny mean `filtered`, and so does --install,
 * with the runtime's registry as the only allowed host.
 */
function networkChoice(
  flags: RunFlags,
  config: Isol8Config,
  chosen: NetworkMode | undefined,
  install: { runtime: Runtime; registries: PackageRegistries } | undefined,
): Pick<DockerIsol8Options, "network" | "networkFilter" | "caCertificates"> {
  const allow = flags.allow ?? [];
  const deny = flags.deny ?? [];
  const rules = allow.length > 0 || deny.length > 0;
  const network: NetworkMode =
    chosen !== undefined || !(rules || install) ? (chosen ?? DEFAULTS.network) : "filtered";
  // Filtered only because of --install: the registry is the one host the run may reach.
  const registryOnly = network === "filtered" && chosen === undefined && !rules && install;
  if (rules && network !== "filtered")
    throw new CliError(`--allow/--deny: need --net filtered (the network is ${network})`);
  if (flags.netLog && network !== "filtered")
    throw new CliError(`--net-log: needs --net filtered (the network is ${network})`);
  const fromConfig = config.network ?? {};
  const caFiles = flags.caCert?.length ? flags.caCert : (fromConfig.caCertificates ?? []);
  const caCertificates = caFiles.map((path) =>
    readCertificate(path, flags.caCert?.length ? "--ca-cert" : "network.caCertificates"),
  );
  if (network !== "filtered")
    return { network, ...(caCertificates.length ? { caCertificates } : {}) };
  return {
    network,
    networkFilter: {
      // Each flag replaces its own key of the file only: --allow alone keeps network.blacklist.
      whitelist: registryOnly
        ? registryRules(install.runtime, install.registries)
        : allow.length
          ? allow
          : (fromConfig.whitelist ?? []),
      blacklist: deny.length ? deny : (fromConfig.blacklist ?? []),
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
