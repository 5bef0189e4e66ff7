import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { runcWarning } from "../../host/runc-check.js";
import { isLoopbackAddress } from "../../network/loopback.js";
import { isOneOf, orList } from "../../one-of.js";
import type { ServerConfigInput } from "../../server/config.js";
import { LOG_FORMATS } from "../../server/log-format.js";
import type { Isol8Server } from "../../server/server.js";
import { addExamples } from "../examples.js";
import { CliError } from "../exit-codes.js";
import { reportError } from "../report-error.js";
import { untilSignalled } from "../until-signalled.js";
import { VERSION } from "../version.js";

interface ServeFlags {
  port?: string;
  key?: string;
  insecureNoAuth?: boolean;
  bind?: string;
  config?: string;
  db?: string;
  auditLog?: string;
  logFormat?: string;
  debug?: boolean;
}

export function registerServe(program: Command): void {
  const serve = program
    .command("serve")
    .description("Start the isol8 HTTP server (remote execution with API keys)")
    .option("-p, --port <port>", "port to listen on (default: $ISOL8_PORT, $PORT, else 3000)")
    .option("-k, --key <key>", "master API key (default: $ISOL8_API_KEY)")
    .option("--insecure-no-auth", "serve without any authentication (trusted machines only)")
    .option(
      "--bind <address>",
      "address to listen on (default: the config's bind, else 127.0.0.1; 0.0.0.0 for every interface)",
    )
    .option("--config <file>", "server configuration (JSON): limits, policy, sessions, pools")
    .option("--db <file>", "SQLite file for API keys (default: ~/.isol8/server.db)")
    .option(
      "--audit-log <file>",
      "append one JSON line per execution to this file (rotated: see auditLogRotation)",
    )
    .option(
      "--log-format <format>",
      `the log on stderr: ${orList(LOG_FORMATS)} (one JSON object per line); default: the config's logFormat, else text`,
    )
    .option("--debug", "log debug entries too (every request is logged at info anyway)")
    .action(async (flags: ServeFlags) => {
      process.exitCode = await serveCommand(flags);
    });
  addExamples(serve, [
    { line: "ISOL8_API_KEY=change-me isol8 serve --port 3000", does: "on 127.0.0.1:3000" },
    {
      line: "isol8 serve --key change-me --config server.json --audit-log audit.jsonl",
      does: "with limits and an audit log",
    },
  ]);
}

/** `--port` > `ISOL8_PORT` > `PORT` > 3000. */
export function resolvePort(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const [source, text] =
    flag !== undefined
      ? ["--port", flag]
      : env.ISOL8_PORT
        ? ["ISOL8_PORT", env.ISOL8_PORT]
        : env.PORT
          ? ["PORT", env.PORT]
          : ["default", "3000"];
  const port = Number(text);
  if (!/^\d+$/.test(text.trim()) || port > 65535)
    throw new CliError(`${source}: "${text}" is not a port number (0-65535)`);
  return port;
}

async function serveCommand(flags: ServeFlags): Promise<number> {
  let server: Isol8Server | undefined;
  try {
    const port = resolvePort(flags.port);
    const masterKey = flags.key ?? process.env.ISOL8_API_KEY;
    const insecure = Boolean(flags.insecureNoAuth) && !masterKey;
    if (!masterKey && !flags.insecureNoAuth) {
      throw new CliError(
        "a master key is required: pass -k/--key or set ISOL8_API_KEY (or --insecure-no-auth on a trusted machine)",
      );
    }
    if (flags.logFormat !== undefined && !isOneOf(LOG_FORMATS, flags.logFormat))
      throw new CliError(`--log-format: "${flags.logFormat}" is not one of ${orList(LOG_FORMATS)}`);
    // The server's modules load only for this command, not for every CLI start.
    const { loadServerConfigFile } = await import("../../server/config.js");
    const config: ServerConfigInput = flags.config ? loadServerConfigFile(flags.config) : {};
    if (flags.db) config.dbPath = flags.db;
    if (flags.auditLog) config.auditLog = flags.auditLog;
    if (flags.logFormat) config.logFormat = flags.logFormat;
    const { createIsol8Server } = await import("../../server/server.js");
    server = await createIsol8Server({
      masterKey,
      insecureNoAuth: insecure,
      config,
      version: VERSION,
      debug: flags.debug,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    const { logger } = server.context;
    const json = server.context.config.logFormat === "json";
    if (insecure) {
      if (json)
        logger.warn(
          "WARNING: running WITHOUT AUTHENTICATION (--insecure-no-auth): anyone who can reach this port can run code and administer the server",
        );
      else
        process.stderr.write(
          "\n*** WARNING: isol8 serve is running WITHOUT AUTHENTICATION (--insecure-no-auth). ***\n*** Anyone who can reach this port can run code and administer the server.    ***\n\n",
        );
    }
    const host = flags.bind ?? server.context.config.bind;
    const { url, address } = await listenOrPick(server, port, host);
    if (!isLoopbackAddress(address)) {
      logger.warn(
        `WARNING: listening on ${address}, beyond loopback: other machines can reach this server${insecure ? " and, without authentication, run code on it" : ""}`,
      );
    }
    // Before the URL line, so that whoever waits for it has seen any warning too.
    const warning = await runcWarning(
      "serve",
      flags.debug ? (line) => logger.debug(line) : undefined,
    );
    // The warning is a block of lines, each already prefixed for the text log.
    if (warning && json) logger.warn(warning.replace(/^isol8 serve: /gm, "").trim());
    else if (warning) process.stderr.write(warning);
    process.stdout.write(`isol8 server ${VERSION} listening on ${url}\n`);
    await untilSignalled();
    logger.info("shutting down; letting running executions finish");
    await server.close();
    logger.info("stopped");
    return 0;
  } catch (error) {
    await server?.close(0).catch(() => undefined);
    return reportError(error, flags.debug);
  }
}

/** A busy port: ask on a terminal, otherwise take a free one and say which. */
async function listenOrPick(server: Isol8Server, port: number, host: string) {
  try {
    return await server.listen(port, host);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
  }
  if (process.stdin.isTTY && process.stderr.isTTY) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = (
        await rl.question(
          `isol8 serve: port ${port} is in use. Port to use instead (empty: any free port): `,
        )
      ).trim();
      return await server.listen(answer === "" ? 0 : resolvePort(answer), host);
    } finally {
      rl.close();
    }
  }
  const picked = await server.listen(0, host);
  server.context.logger.warn(`port ${port} is in use; using port ${picked.port} instead`);
  return picked;
}
