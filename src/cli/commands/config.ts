import type { Command } from "commander";
import { configEngineOptions, type Isol8Config, loadConfig } from "../../config/file.js";
import { formatSize } from "../../config/sizes.js";
import { resolveOptions } from "../../engine/options.js";
import { REMOTE_CODE_DEFAULTS } from "../../remote-code/config.js";
import { RUNTIMES } from "../../runtimes/runtime.js";
import { reportError } from "../report-error.js";

export function registerConfig(program: Command): void {
  program
    .command("config")
    .description(
      "Show the configuration `isol8 run` uses: the file it came from and every resolved value",
    )
    .option("--json", "print it as JSON", false)
    .action((flags: { json?: boolean }) => {
      process.exitCode = configCommand(flags.json ?? false);
    });
}

/** The `remoteCode` keys with their defaults; allowedHosts `null` means any host. */
function remoteCodeValues(remote: NonNullable<Isol8Config["remoteCode"]>): Record<string, unknown> {
  return {
    "remoteCode.enabled": remote.enabled ?? REMOTE_CODE_DEFAULTS.enabled,
    "remoteCode.allowedSchemes": remote.allowedSchemes ?? REMOTE_CODE_DEFAULTS.allowedSchemes,
    "remoteCode.allowedHosts": remote.allowedHosts ?? null,
    "remoteCode.blockedHosts": remote.blockedHosts ?? [],
    "remoteCode.maxCodeSize": remote.maxCodeSize ?? REMOTE_CODE_DEFAULTS.maxCodeSize,
    "remoteCode.fetchTimeoutMs": remote.fetchTimeoutMs ?? REMOTE_CODE_DEFAULTS.fetchTimeoutMs,
    "remoteCode.requireHash": remote.requireHash ?? REMOTE_CODE_DEFAULTS.requireHash,
    "remoteCode.caCertificates": remote.caCertificates ?? [],
  };
}

function configCommand(json: boolean): number {
  try {
    const { config, path } = loadConfig();
    const resolved = resolveOptions(configEngineOptions(config));
    const effective = {
      network: resolved.network,
      memoryLimit: formatSize(resolved.memoryBytes),
      cpuLimit: resolved.cpuLimit,
      timeoutMs: resolved.timeoutMs,
      pidsLimit: resolved.pidsLimit,
      sandboxSize: formatSize(resolved.sandboxBytes),
      tmpSize: formatSize(resolved.tmpBytes),
      readonlyRootFs: resolved.readonlyRootFs,
      maxOutputSize: resolved.maxOutputBytes,
      seccomp: config.security?.seccomp ?? "strict",
      customProfilePath: config.security?.customProfilePath ?? null,
      ociRuntime: resolved.ociRuntime ?? null,
      "network.whitelist": config.network?.whitelist ?? [],
      "network.blacklist": config.network?.blacklist ?? [],
      "network.ports": config.network?.ports ?? [80, 443],
      "network.caCertificates": config.network?.caCertificates ?? [],
      "registries.pip": config.registries?.pip ?? null,
      "registries.npm": config.registries?.npm ?? null,
      // Not configurable: said here so nobody looks for a setting that does not exist.
      cleanup:
        "containers are removed with their engine (Docker AutoRemove); --persist ones stay until `isol8 cleanup`",
      ...remoteCodeValues(config.remoteCode ?? {}),
      ...Object.fromEntries(
        RUNTIMES.map((runtime) => [
          `dependencies.${runtime}`,
          config.dependencies?.[runtime] ?? [],
        ]),
      ),
    };
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ file: path ?? null, config, effective }, null, 2)}\n`,
      );
      return 0;
    }
    process.stdout.write(
      `config file: ${path ?? "none (./isol8.config.json and ~/.isol8/config.json do not exist); built-in defaults"}\n\n`,
    );
    const width = Math.max(...Object.keys(effective).map((k) => k.length));
    for (const [key, value] of Object.entries(effective)) {
      const text = Array.isArray(value) ? value.join(" ") || "-" : String(value);
      process.stdout.write(`${key.padEnd(width)}  ${text}\n`);
    }
    return 0;
  } catch (error) {
    return reportError(error);
  }
}
