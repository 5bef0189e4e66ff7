import type { Command } from "commander";
import { resolveApiKey } from "../../client/credentials.js";
import { RemoteError } from "../../client/remote-error.js";
import type { RemoteIsol8, RemoteIsol8Options } from "../../client/remote-isol8.js";
import { addExamples } from "../examples.js";
import { CliError, EXIT } from "../exit-codes.js";
import { reportError } from "../report-error.js";

interface RemoteFlags {
  host?: string;
  key?: string;
  json?: boolean;
}

/**
 * A RemoteIsol8 for `--host`, with `--key`, `ISOL8_API_KEY` or a stored
 * login token. The client (and its WebSocket library) is loaded only here,
 * so that local commands start as fast as before.
 */
export async function remoteFromFlags(
  flags: RemoteFlags,
  sessionId?: string,
  options?: RemoteIsol8Options,
): Promise<RemoteIsol8> {
  if (!flags.host) throw new CliError("--host is required (the isol8 server's URL)");
  const apiKey = resolveApiKey(flags.host, flags.key);
  if (!apiKey) {
    throw new CliError(
      `no key for ${flags.host}: pass --key, set ISOL8_API_KEY, or run \`isol8 login --host ${flags.host}\``,
    );
  }
  const { RemoteIsol8 } = await import("../../client/remote-isol8.js");
  return new RemoteIsol8(
    { host: flags.host, apiKey, ...(sessionId ? { sessionId } : {}) },
    options,
  );
}

/** A server's refusal as the CLI reports it: the server's words, and exit 2 for a bad request. */
export function remoteErrorForCli(error: unknown): unknown {
  if (!(error instanceof RemoteError)) return error;
  const from = error.status ? `server answered ${error.status}` : "server";
  return new CliError(
    `${from}: ${error.message}`,
    error.status === 400 ? EXIT.usage : EXIT.isol8Error,
    { cause: error },
  );
}

export function registerSession(program: Command): void {
  const session = program
    .command("session")
    .description("List or stop persistent sessions on an isol8 server");
  addExamples(session, [
    { line: "isol8 session list --host http://localhost:3000", does: "your sessions on a server" },
    { line: "isol8 session stop build-42 --host http://localhost:3000", does: "stop one" },
  ]);
  const list = session
    .command("list")
    .description("List your sessions")
    .option("--host <url>", "isol8 server URL")
    .option("--key <key>", "API key (default: $ISOL8_API_KEY, else your `isol8 login` token)")
    .option("--json", "print JSON")
    .action(async (flags: RemoteFlags) => {
      process.exitCode = await run(async () => {
        const sessions = await (await remoteFromFlags(flags)).listSessions();
        if (flags.json) process.stdout.write(`${JSON.stringify(sessions, null, 2)}\n`);
        else if (!sessions.length) process.stdout.write("no sessions\n");
        else
          for (const s of sessions)
            process.stdout.write(
              `${s.id}\t${s.isActive ? "active" : "idle"}\t${s.lastAccessedAt}\n`,
            );
      });
    });
  addExamples(list, [
    { line: "isol8 session list --host http://localhost:3000", does: "id, state, last use" },
    { line: "isol8 session list --host https://isol8.example.com --json", does: "as JSON" },
  ]);
  const stop = session
    .command("stop")
    .description("Stop a session and remove its container")
    .argument("<id>", "session id")
    .option("--host <url>", "isol8 server URL")
    .option("--key <key>", "API key (default: $ISOL8_API_KEY, else your `isol8 login` token)")
    .action(async (id: string, flags: RemoteFlags) => {
      process.exitCode = await run(async () => {
        await (await remoteFromFlags(flags)).deleteSession(id);
        process.stdout.write(`stopped session ${id}\n`);
      });
    });
  addExamples(stop, [
    {
      line: "isol8 session stop build-42 --host http://localhost:3000",
      does: "stop it and remove its container",
    },
  ]);
}

async function run(work: () => Promise<void>): Promise<number> {
  try {
    await work();
    return 0;
  } catch (error) {
    return reportError(remoteErrorForCli(error));
  }
}
