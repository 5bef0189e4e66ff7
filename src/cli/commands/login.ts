import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import {
  credentialsPath,
  normalizeHost,
  removeCredentials,
  saveCredential,
} from "../../client/credentials.js";
import { RemoteError, remoteErrorFrom } from "../../client/remote-error.js";
import { addExamples } from "../examples.js";
import { CliError } from "../exit-codes.js";
import { reportError } from "../report-error.js";
import { remoteErrorForCli } from "./session.js";

interface LoginFlags {
  host?: string;
  key?: string;
  tenant?: string;
  ttl?: string;
  name?: string;
}

/** The name a token is listed under on the server when `--name` is not given. */
const DEFAULT_TOKEN_NAME = "isol8 login";

export function registerLogin(program: Command): void {
  const login = program
    .command("login")
    .description(
      "Get a short-lived token from an isol8 server with its master key and store it in ~/.isol8/credentials.json",
    )
    .option("--host <url>", "isol8 server URL")
    .option("--key <key>", "master key (default: $ISOL8_API_KEY, else asked for on a terminal)")
    .option("--tenant <id>", "tenant the token acts for (default: the server's default tenant)")
    .option("--ttl <ms>", "token lifetime in milliseconds (default: the server's)")
    .option("--name <name>", `name shown in the server's key list (default: ${DEFAULT_TOKEN_NAME})`)
    .action(async (flags: LoginFlags) => {
      process.exitCode = await loginCommand(flags).catch((error: unknown) =>
        reportError(remoteErrorForCli(error)),
      );
    });
  addExamples(login, [
    { line: "isol8 login --host https://isol8.example.com", does: "asks for the master key" },
    {
      line: "ISOL8_API_KEY=change-me isol8 login --host http://localhost:3000 --ttl 3600000",
      does: "a token for one hour",
    },
  ]);
  const logout = program
    .command("logout")
    .description("Forget the stored token for a server (all servers without --host)")
    .option("--host <url>", "isol8 server URL")
    .action((flags: { host?: string }) => {
      const n = removeCredentials(flags.host);
      process.stdout.write(n ? `forgot ${n} stored token(s)\n` : "no stored token\n");
    });
  addExamples(logout, [
    { line: "isol8 logout --host https://isol8.example.com", does: "forget that server's token" },
    { line: "isol8 logout", does: "forget every stored token" },
  ]);
}

async function askKey(): Promise<string> {
  if (!process.stdin.isTTY) throw new CliError("no master key: pass --key or set ISOL8_API_KEY");
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question("master key: ")).trim();
  } finally {
    rl.close();
  }
}

async function loginCommand(flags: LoginFlags): Promise<number> {
  if (!flags.host) throw new CliError("--host is required (the isol8 server's URL)");
  const host = normalizeHost(flags.host);
  const key = flags.key ?? process.env.ISOL8_API_KEY ?? (await askKey());
  const ttlMs = flags.ttl === undefined ? undefined : Number(flags.ttl);
  if (ttlMs !== undefined && !(Number.isInteger(ttlMs) && ttlMs > 0))
    throw new CliError(`--ttl: "${flags.ttl}" is not a positive whole number of milliseconds`);
  let response: Response;
  try {
    response = await fetch(`${host}/auth/login`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        name: flags.name ?? DEFAULT_TOKEN_NAME,
        tenantId: flags.tenant,
        ttlMs,
      }),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    throw new RemoteError(0, `cannot reach ${host}: ${cause?.code ?? (error as Error).message}`);
  }
  if (!response.ok) throw await remoteErrorFrom(response);
  const login = (await response.json()) as {
    token: string;
    expiresAt: string | null;
    keyId: string;
  };
  saveCredential(host, { token: login.token, expiresAt: login.expiresAt, keyId: login.keyId });
  process.stdout.write(
    `logged in to ${host}; token stored in ${credentialsPath()}${login.expiresAt ? ` (expires ${login.expiresAt})` : ""}\n`,
  );
  return 0;
}
