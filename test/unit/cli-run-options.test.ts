// How `isol8 run` resolves each engine option: the flag the user typed, else
// the configuration file, else the engine's default. The flags carry no
// defaults of their own, so the engine's are the only ones.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Command, type Option } from "commander";
import { registerBuild } from "../../src/cli/commands/build.js";
import { registerCleanup } from "../../src/cli/commands/cleanup.js";
import { registerConfig } from "../../src/cli/commands/config.js";
import { registerLogin } from "../../src/cli/commands/login.js";
import { registerMcp } from "../../src/cli/commands/mcp.js";
import type { RunFlags } from "../../src/cli/commands/run/flags.js";
import { localEngineOptions } from "../../src/cli/commands/run/options.js";
import { registerRun } from "../../src/cli/commands/run.js";
import { registerServe } from "../../src/cli/commands/serve.js";
import { registerSession } from "../../src/cli/commands/session.js";
import { registerSetup } from "../../src/cli/commands/setup.js";
import { CliError } from "../../src/cli/exit-codes.js";
import type { Isol8Config } from "../../src/config/file.js";
import { DEFAULTS, resolveOptions } from "../../src/engine/options.js";

/** The engine options `isol8 run` would use, resolved as the engine resolves them. */
function resolved(flags: RunFlags, config: Isol8Config = {}) {
  return resolveOptions(localEngineOptions(flags, config, "python"));
}

const MB = 1024 * 1024;

describe("isol8 run's engine options: flag, then config file, then engine default", () => {
  test("with neither flag nor file, every limit is the engine's default", () => {
    const options = localEngineOptions({}, {}, "python");
    for (const key of ["timeoutMs", "memoryLimit", "cpuLimit", "pidsLimit", "maxOutputSize"])
      assert.equal(options[key as keyof typeof options], undefined, `${key} left to the engine`);
    const o = resolved({});
    assert.equal(o.timeoutMs, DEFAULTS.timeoutMs);
    assert.equal(o.memoryBytes, 512 * MB);
    assert.equal(o.cpuLimit, DEFAULTS.cpuLimit);
    assert.equal(o.pidsLimit, DEFAULTS.pidsLimit);
    assert.equal(o.sandboxBytes, 512 * MB);
    assert.equal(o.tmpBytes, 256 * MB);
    assert.equal(o.readonlyRootFs, DEFAULTS.readonlyRootFs);
    assert.equal(o.maxOutputBytes, DEFAULTS.maxOutputSize);
    assert.equal(o.network, DEFAULTS.network);
    assert.equal(o.mode, DEFAULTS.mode);
    assert.notEqual(o.seccompOpt, "seccomp=unconfined");
  });

  test("the file's values win over the engine's defaults when no flag is given", () => {
    const o = resolved(
      {},
      {
        defaults: {
          timeoutMs: 1000,
          memoryLimit: "64m",
          cpuLimit: 0.5,
          pidsLimit: 16,
          tmpSize: "16m",
          readonlyRootFs: false,
          maxOutputSize: 2048,
        },
        security: { seccomp: "unconfined" },
      },
    );
    assert.equal(o.timeoutMs, 1000);
    assert.equal(o.memoryBytes, 64 * MB);
    assert.equal(o.cpuLimit, 0.5);
    assert.equal(o.pidsLimit, 16);
    assert.equal(o.tmpBytes, 16 * MB);
    assert.equal(o.readonlyRootFs, false);
    assert.equal(o.maxOutputBytes, 2048);
    assert.equal(o.seccompOpt, "seccomp=unconfined");
  });

  test("a typed flag wins over the file, also when it names the engine's default", () => {
    const config: Isol8Config = {
      defaults: { timeoutMs: 1000, memoryLimit: "64m", pidsLimit: 16 },
      security: { seccomp: "unconfined" },
    };
    const o = resolved(
      {
        timeout: String(DEFAULTS.timeoutMs),
        memory: DEFAULTS.memoryLimit,
        pidsLimit: "100",
        seccomp: DEFAULTS.seccomp,
      },
      config,
    );
    assert.equal(o.timeoutMs, DEFAULTS.timeoutMs);
    assert.equal(o.memoryBytes, 512 * MB);
    assert.equal(o.pidsLimit, 100);
    assert.notEqual(o.seccompOpt, "seccomp=unconfined");
    assert.equal(
      resolved({ writable: true }, { defaults: { readonlyRootFs: true } }).readonlyRootFs,
      false,
    );
  });

  test("the network: the flag over the file; rules replace only their own key of the file", () => {
    const config: Isol8Config = {
      defaults: { network: "filtered" },
      network: { whitelist: ["pypi\\.org"], blacklist: ["evil\\.example"] },
    };
    const fromFile = localEngineOptions({}, config, "python");
    assert.equal(fromFile.network, "filtered");
    assert.deepEqual(fromFile.networkFilter?.whitelist, ["pypi\\.org"]);
    const allowed = localEngineOptions({ allow: ["example\\.com"] }, config, "python");
    assert.deepEqual(allowed.networkFilter?.whitelist, ["example\\.com"]);
    assert.deepEqual(allowed.networkFilter?.blacklist, ["evil\\.example"]);
    const none = localEngineOptions({ net: "none" }, config, "python");
    assert.equal(none.network, "none");
    assert.equal(none.networkFilter, undefined);
    assert.throws(
      () => localEngineOptions({ allow: ["x"] }, { defaults: { network: "host" } }, "python"),
      (error: unknown) => error instanceof CliError && /the network is host/.test(error.message),
    );
    assert.throws(
      () => localEngineOptions({ net: "wifi" }, {}, "python"),
      (error: unknown) => error instanceof CliError && /^--net: "wifi"/.test(error.message),
    );
  });

  test("without a mode from flag or file, --allow and --install mean filtered; with one, they do not change it", () => {
    assert.equal(localEngineOptions({ allow: ["x"] }, {}, "python").network, "filtered");
    const install = localEngineOptions({ install: ["requests"] }, {}, "python");
    assert.equal(install.network, "filtered");
    assert.ok(install.networkFilter?.whitelist?.some((rule) => rule.includes("pypi")));
    const fileHost = localEngineOptions(
      { install: ["requests"] },
      { defaults: { network: "host" } },
      "python",
    );
    assert.equal(fileHost.network, "host");
  });

  test("a flag's invalid value is named by its flag", () => {
    for (const [flags, message] of [
      [{ timeout: "0" }, /^--timeout: "0" is not a positive whole number/],
      [{ cpu: "lots" }, /^--cpu: "lots" is not a positive number/],
      [{ secret: ["NOVALUE"] }, /^--secret: "NOVALUE" is not KEY=VALUE/],
    ] as const) {
      assert.throws(
        () => localEngineOptions(flags as RunFlags, { defaults: { timeoutMs: 5 } }, "python"),
        (error: unknown) => error instanceof CliError && message.test(error.message),
      );
    }
  });
});

describe("the CLI's flags have no defaults of their own", () => {
  const program = new Command("isol8");
  for (const register of [
    registerRun,
    registerSetup,
    registerBuild,
    registerCleanup,
    registerConfig,
    registerServe,
    registerSession,
    registerLogin,
    registerMcp,
  ])
    register(program);
  const commands = (command: Command): Command[] => [
    command,
    ...command.commands.flatMap(commands),
  ];

  test("no option of any command has a default value (but --no-stream's, commander's own)", () => {
    const withDefault: string[] = [];
    for (const command of commands(program))
      for (const option of command.options as Option[])
        if (option.defaultValue !== undefined && !option.negate)
          withDefault.push(`${command.name()} ${option.long}`);
    assert.deepEqual(withDefault, []);
    assert.ok(commands(program).length > 10, "every command was registered");
  });

  test("isol8 run's help states the engine's defaults", () => {
    const run = program.commands.find((c) => c.name() === "run");
    const help = (long: string) =>
      ((run?.options ?? []) as Option[]).find((option) => option.long === long)?.description ?? "";
    assert.match(
      help("--timeout"),
      new RegExp(`defaults\\.timeoutMs, else ${DEFAULTS.timeoutMs}\\)`),
    );
    assert.match(help("--memory"), new RegExp(`else ${DEFAULTS.memoryLimit}\\)`));
    assert.match(help("--max-output"), new RegExp(`else ${DEFAULTS.maxOutputSize}\\)`));
    assert.match(help("--seccomp"), new RegExp(`else ${DEFAULTS.seccomp}\\)`));
  });
});
