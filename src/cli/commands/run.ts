import type { Command } from "commander";
import { DEFAULTS } from "../../engine/options.js";
import { orList } from "../../one-of.js";
import { RUNTIMES } from "../../runtimes/runtime.js";
import { NETWORK_MODES, SECCOMP_MODES } from "../../types.js";
import { completeWith } from "../completion/spec.js";
import { CONFIG_FLAG_HELP } from "../config-files.js";
import { addExamples } from "../examples.js";
import { collect, type RunFlags } from "./run/flags.js";
import { runLocal } from "./run/local.js";
import { runRemote } from "./run/remote.js";

/**
 * The default a flag's help states: the configuration file's key, else the
 * engine's own value, read from where the engine defines it.
 */
function fileThenEngine(key: keyof typeof DEFAULTS): string {
  return `(default: the config file's defaults.${key}, else ${DEFAULTS[key]})`;
}

export function registerRun(program: Command): void {
  const run = program
    .command("run")
    .description(
      "Run code in a sandbox: --eval CODE, a FILE (runtime from its extension), or code piped on stdin",
    )
    .argument("[file]", "file to run (.py .js .mjs .cjs .ts .mts .sh)")
    .option("-e, --eval <code>", "inline code to run (python unless --runtime says otherwise)")
    .option("--cmd <command>", "run a bash command in the runtime's image instead of code")
    .option("--url <url>", "fetch the code to run from this URL (config remoteCode must enable it)")
    .option("--github <owner/repo/ref/path>", "fetch the code from raw.githubusercontent.com")
    .option("--gist <[owner/]id/file>", "fetch the code from gist.githubusercontent.com")
    .option("--hash <sha256>", "with --url/--github/--gist: refuse code whose SHA-256 differs")
    .option(
      "--allow-insecure-code-url",
      "with --url: permit an http:// URL (config remoteCode.allowedSchemes must list http)",
    )
    .option(
      "-r, --runtime <name>",
      `${orList(RUNTIMES)} (default: from the file extension, else python)`,
    )
    .option("--no-stream", "print output when the program ends instead of as it is produced")
    .option("--json", "print the whole result as JSON (implies --no-stream)")
    .option("--persist", "keep the container running after the run, for debugging with docker exec")
    .option(
      "--persistent",
      "one persistent container for the whole command: setup, installs and program share it (engine mode persistent)",
    )
    .option("--debug", "log the engine's internal steps with timings to stderr")
    .option(
      "--timeout <ms>",
      `kill the run after this many milliseconds ${fileThenEngine("timeoutMs")}`,
    )
    .option(
      "--memory <size>",
      `memory limit, e.g. 512m or 1g (no swap on top) ${fileThenEngine("memoryLimit")}`,
    )
    .option("--cpu <cores>", `CPU limit in cores, e.g. 0.5 ${fileThenEngine("cpuLimit")}`)
    .option("--pids-limit <n>", `maximum processes and threads ${fileThenEngine("pidsLimit")}`)
    .option("--sandbox-size <size>", `size of the /sandbox tmpfs ${fileThenEngine("sandboxSize")}`)
    .option("--tmp-size <size>", `size of the /tmp tmpfs ${fileThenEngine("tmpSize")}`)
    .option(
      "--writable",
      `make the root filesystem writable (default: the config file's defaults.readonlyRootFs, else ${DEFAULTS.readonlyRootFs ? "read-only" : "writable"})`,
    )
    .option(
      "--max-output <bytes>",
      `bytes of stdout and of stderr kept (each) ${fileThenEngine("maxOutputSize")}`,
    )
    .option(
      "--secret <KEY=VALUE>",
      "secret environment variable, masked as *** in output (repeatable)",
      collect,
    )
    .option("--stdin <data>", "data for the program's standard input")
    .option(
      "--workdir <dir>",
      "directory inside /sandbox the program (and --setup) starts in; created when missing",
    )
    .option(
      "--files <dir>",
      "copy this host directory into /sandbox (recursively; skips .git, node_modules, virtualenvs, caches)",
    )
    .option(
      "--setup <command|file>",
      "bash run before the program, in the same sandbox and timeout; a file's contents if it names one (repeatable)",
      collect,
    )
    .option("--out <file>", "write the program's stdout to this file instead of the terminal")
    .option("--image <name>", "run in this image instead of isol8:<runtime>")
    .option(
      "--net <mode>",
      `network: none, filtered (only through isol8's gateway, see --allow) or host ${fileThenEngine("network")}`,
    )
    .option(
      "--allow <pattern>",
      "with --net filtered: a host the sandbox may reach, a regex matching the whole name; NAME:PORT for another port (repeatable; implies --net filtered)",
      collect,
    )
    .option(
      "--deny <pattern>",
      "with --net filtered: a host never to reach, even when allowed (repeatable)",
      collect,
    )
    .option("--net-log", "print the gateway's log of the run's connections (--net filtered)")
    .option("--log-network", "same as --net-log")
    .option(
      "--install <package>",
      "install a package before the run (repeatable); without --net, the run is filtered to the runtime's registry",
      collect,
    )
    .option(
      "--ca-cert <file>",
      "extra CA certificate (PEM) trusted inside the sandbox, for TLS-intercepting proxies (repeatable; default: the config file's network.caCertificates)",
      collect,
    )
    .option(
      "--pip-index-url <url>",
      "pip index for --install (python) (default: the config file's registries.pip, else PyPI)",
    )
    .option(
      "--npm-registry <url>",
      "npm registry for --install (node, bun, deno) (default: the config file's registries.npm, else npmjs)",
    )
    .option(
      "--seccomp <mode>",
      `system call filter: ${orList(SECCOMP_MODES)} (default: the config file's security.seccomp, else ${DEFAULTS.seccomp})`,
    )
    .option("--seccomp-profile <file>", "seccomp profile (JSON) for --seccomp custom")
    .option(
      "--oci-runtime <name>",
      "OCI runtime registered with Docker, e.g. runsc (gVisor) (default: the config file's defaults.ociRuntime, else Docker's default)",
    )
    .option("--config <file>", CONFIG_FLAG_HELP)
    .option("--host <url>", "run on this isol8 server (`isol8 serve`) instead of local Docker")
    .option(
      "--key <key>",
      "API key for --host (default: $ISOL8_API_KEY, else your `isol8 login` token)",
    )
    .option(
      "--session-id <id>",
      "with --host: run in this persistent session (created on first use)",
    )
    .addHelpText(
      "after",
      "\nA limit not given as a flag comes from the configuration file, else from isol8's default;\nwith --host, from the server's defaults.",
    )
    .action(async (file: string | undefined, flags: RunFlags) => {
      if (flags.logNetwork) flags.netLog = true;
      process.exitCode = flags.host ? await runRemote(file, flags) : await runLocal(file, flags);
    });
  addExamples(run, [
    { line: `isol8 run -e "print('hello')"`, does: "inline code, python by default" },
    { line: "isol8 run script.py", does: "the runtime from the file's extension" },
    { line: "echo 'console.log(42)' | isol8 run --runtime node", does: "code on stdin" },
    { line: "isol8 run --cmd 'uname -a'", does: "a bash command in the sandbox" },
    { line: "isol8 run -e 'while True: pass' --timeout 2000", does: "killed after 2 s: exit 124" },
    {
      line: "isol8 run -e 'import os; print(os.environ[\"KEY\"])' --secret KEY=sk-1234",
      does: "a secret, masked as *** in the output",
    },
    {
      line: `isol8 run --runtime node --install is-odd -e 'import isOdd from "is-odd"; console.log(isOdd(3))'`,
      does: "a package installed before the run",
    },
    {
      line: "isol8 run --allow 'api\\.github\\.com' --net-log --cmd 'curl -s https://api.github.com/zen'",
      does: "one host reachable, connections logged",
    },
    {
      line: "isol8 run --files ./data --workdir /sandbox main.py",
      does: "a folder copied into /sandbox",
    },
    { line: "isol8 run --json -e 'print(1)'", does: "the whole result as JSON" },
    {
      line: "isol8 run --config ./ci.isol8.json tests.py",
      does: "limits from this configuration file",
    },
    { line: "isol8 run --host http://localhost:3000 -e 'print(1)'", does: "on an isol8 server" },
  ]);
  completeWith(run, "--runtime", RUNTIMES);
  completeWith(run, "--net", NETWORK_MODES);
  completeWith(run, "--seccomp", SECCOMP_MODES);
}
