import { resolve } from "node:path";
import type { Command } from "commander";
import {
  configEngineOptions,
  describeSources,
  type Isol8Config,
  projectConfigPath,
  readConfigFile,
  userConfigPath,
} from "../../config/file.js";
import { formatSize } from "../../config/sizes.js";
import { recordTrust } from "../../config/trust.js";
import { describeWidening, wideningKeys } from "../../config/widening.js";
import { DEFAULTS, resolveOptions } from "../../engine/options.js";
import { DEFAULT_PORTS } from "../../network/policy.js";
import { REMOTE_CODE_DEFAULTS } from "../../remote-code/config.js";
import { RUNTIMES } from "../../runtimes/runtime.js";
import { CONFIG_FLAG_HELP, cliConfig } from "../config-files.js";
import { addExamples } from "../examples.js";
import { CliError } from "../exit-codes.js";
import { reportError } from "../report-error.js";

export function registerConfig(program: Command): void {
  const config = program
    .command("config")
    .description(
      "Show the configuration `isol8 run` uses: the files it came from and every resolved value",
    )
    .option("--json", "print it as JSON")
    .option("--config <file>", CONFIG_FLAG_HELP)
    .action((flags: { json?: boolean; config?: string }) => {
      process.exitCode = configCommand(flags.json ?? false, flags.config);
    });
  addExamples(config, [
    { line: "isol8 config", does: "the files read and every resolved value" },
    { line: "isol8 config --json", does: "the same as JSON" },
    { line: "isol8 config --config ./ci.isol8.json", does: "what this file would give isol8 run" },
  ]);
  const trust = config
    .command("trust")
    .description(
      "Trust a project's isol8.config.json with its current content, so that it may widen what isol8 allows (asked again when it changes)",
    )
    .argument("[file]", "the file to trust", "./isol8.config.json")
    .action((file: string) => {
      process.exitCode = trustCommand(file);
    });
  addExamples(trust, [
    { line: "isol8 config trust", does: "trust ./isol8.config.json as it is now" },
    {
      line: "isol8 config trust ../shared/isol8.config.json",
      does: "trust another project's file",
    },
  ]);
}

/** `isol8 config trust FILE`: records the file's content hash and says what it widens. */
function trustCommand(file: string): number {
  try {
    const path = resolve(file);
    const read = readConfigFile(path);
    if (!read) throw new CliError(`${file} does not exist`);
    const user = readConfigFile(userConfigPath())?.config ?? {};
    const widenings = wideningKeys(user, read.config);
    const sha256 = recordTrust(path, read.text);
    const what = widenings.length
      ? `it may now widen: ${widenings.map(describeWidening).join(", ")}`
      : "it widens nothing (it applies without trust too)";
    process.stdout.write(`trusted ${path} (sha256 ${sha256}); ${what}\n`);
    return 0;
  } catch (error) {
    return reportError(error);
  }
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

function configCommand(json: boolean, explicit: string | undefined): number {
  try {
    const { config, sources } = cliConfig(explicit);
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
      seccomp: config.security?.seccomp ?? DEFAULTS.seccomp,
      customProfilePath: config.security?.customProfilePath ?? null,
      ociRuntime: resolved.ociRuntime ?? null,
      "network.whitelist": config.network?.whitelist ?? [],
      "network.blacklist": config.network?.blacklist ?? [],
      "network.ports": config.network?.ports ?? [...DEFAULT_PORTS],
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
        `${JSON.stringify({ file: sources.at(-1)?.path ?? null, sources, config, effective }, null, 2)}\n`,
      );
      return 0;
    }
    process.stdout.write(
      `config files: ${sources.length ? describeSources(sources) : `none (${projectConfigPath()} and ${userConfigPath()} do not exist); built-in defaults`}\n\n`,
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
