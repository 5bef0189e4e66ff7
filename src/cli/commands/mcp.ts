import type { Command } from "commander";
import { assertDockerReachable, createDockerClient } from "../../backend/docker/client.js";
import { describeSources } from "../../config/file.js";
import { CONFIG_FLAG_HELP, cliConfig } from "../config-files.js";
import { addExamples } from "../examples.js";
import { CliError } from "../exit-codes.js";
import { reportError } from "../report-error.js";
import { untilSignalled } from "../until-signalled.js";
import { VERSION } from "../version.js";

interface McpFlags {
  port?: string;
  bind?: string;
  key?: string;
  insecureNoAuth?: boolean;
  config?: string;
  idleTimeout?: string;
  image?: string;
  debug?: boolean;
}

/** What `--port`'s HTTP listener uses when `--bind` or `--idle-timeout` is not given. */
const HTTP_DEFAULTS = { bind: "127.0.0.1", idleTimeoutSeconds: 1800 } as const;

export function registerMcp(program: Command): void {
  const mcp = program
    .command("mcp")
    .description(
      "Serve isol8 to AI agents over the Model Context Protocol: stdio, or streamable HTTP with --port",
    )
    .option(
      "-p, --port <port>",
      "serve streamable HTTP on this port (0: any free port) instead of stdio",
    )
    .option(
      "--bind <address>",
      `with --port: address to listen on (default: ${HTTP_DEFAULTS.bind})`,
    )
    .option(
      "-k, --key <key>",
      "with --port: bearer key clients must send (default: $ISOL8_API_KEY)",
    )
    .option("--insecure-no-auth", "with --port: serve without a key (trusted machines only)")
    .option("--config <file>", CONFIG_FLAG_HELP)
    .option(
      "--idle-timeout <seconds>",
      `with --port: end a client's session (and its sandboxes) after this long without a request (default: ${HTTP_DEFAULTS.idleTimeoutSeconds})`,
    )
    .option(
      "--image <name>",
      "run every sandbox in this image instead of isol8:<runtime> (e.g. isol8:python-data, for a python-only server)",
    )
    .option("--debug", "log the engine's internal steps to stderr")
    .action(async (flags: McpFlags) => {
      process.exitCode = await mcpCommand(flags);
    });
  addExamples(mcp, [
    { line: "isol8 mcp", does: "over stdio, for a client that starts it" },
    { line: "isol8 mcp --port 8808 --key change-me", does: "streamable HTTP with a bearer key" },
    { line: "isol8 mcp --image isol8:python-data", does: "python sandboxes with NumPy and pandas" },
  ]);
}

async function mcpCommand(flags: McpFlags): Promise<number> {
  const stop = untilSignalled();
  try {
    const http = flags.port !== undefined;
    if (!http) {
      const needPort = (["bind", "key", "insecureNoAuth", "idleTimeout"] as const).filter(
        (name) => flags[name] !== undefined,
      );
      if (needPort.length)
        throw new CliError(
          `${needPort.map((n) => `--${n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(", ")}: need --port (stdio needs no listener)`,
        );
    }
    const { config, sources } = cliConfig(flags.config);
    // The MCP modules (and the SDK) load only for this command.
    const { mcpPolicy } = await import("../../mcp/policy.js");
    const policy = mcpPolicy(config);
    if (flags.debug) policy.engine.debug = true;
    if (flags.image !== undefined) policy.engine.image = flags.image;
    await assertDockerReachable(createDockerClient());
    const { createMcpServer } = await import("../../mcp/server.js");
    const { EngineSandboxes } = await import("../../mcp/sandboxes.js");
    const { serveHttp, serveStdio } = await import("../../mcp/transports.js");
    const newScope = () => {
      const sandboxes = new EngineSandboxes(policy.engine, policy.maxSessions);
      return {
        server: createMcpServer(sandboxes, policy, VERSION),
        close: () => sandboxes.close(),
      };
    };
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const where = sources.length
      ? `config ${describeSources(sources)}`
      : "no config file (built-in defaults)";
    if (!http) {
      log(`isol8 mcp ${VERSION}: serving on stdio; ${where}; network ${policy.network}`);
      await serveStdio(newScope(), stop);
      return 0;
    }
    const port = Number(flags.port);
    if (!/^\d+$/.test(flags.port ?? "") || port > 65535)
      throw new CliError(`--port: "${flags.port}" is not a port number (0-65535)`);
    const idle = Number(flags.idleTimeout ?? HTTP_DEFAULTS.idleTimeoutSeconds);
    if (!Number.isFinite(idle) || idle <= 0)
      throw new CliError(
        `--idle-timeout: "${flags.idleTimeout}" is not a positive number of seconds`,
      );
    const key = flags.key ?? process.env.ISOL8_API_KEY;
    if (!key && !flags.insecureNoAuth)
      throw new CliError(
        "a key is required for --port: pass -k/--key or set ISOL8_API_KEY (or --insecure-no-auth on a trusted machine)",
      );
    if (!key)
      log(
        "\n*** WARNING: isol8 mcp is serving WITHOUT AUTHENTICATION (--insecure-no-auth). ***\n*** Anyone who can reach this port can run code in sandboxes.             ***\n",
      );
    const served = await serveHttp(newScope, {
      port,
      host: flags.bind ?? HTTP_DEFAULTS.bind,
      key: key || undefined,
      idleMs: idle * 1000,
      log,
    });
    log(`isol8 mcp: ${where}; network ${policy.network}`);
    process.stdout.write(`isol8 mcp ${VERSION} listening on ${served.url}\n`);
    await stop;
    log("isol8 mcp: shutting down; removing every session's sandboxes");
    await served.close();
    return 0;
  } catch (error) {
    return reportError(error, flags.debug);
  }
}
