/**
 * E2B's home folder on isol8: what E2B code calls /home/user (its default
 * working directory, where relative paths start) is the sandbox's
 * /sandbox, and the images link /home/user to it so that commands see
 * the same files. Paths go into isol8 through `sandboxPath` and come back
 * through `e2bPath`, so E2B code sees the paths it wrote.
 */
import { HttpError } from "../../server/errors.js";

/** E2B's home folder, and its working directory by default. */
const E2B_HOME = "/home/user";
const SANDBOX_DIR = "/sandbox";

/** The user E2B code runs as; isol8 runs everything as its sandbox user, which this name stands for. */
const E2B_USER = "user";

function under(path: string, folder: string): string | undefined {
  if (path === folder) return "";
  return path.startsWith(`${folder}/`) ? path.slice(folder.length) : undefined;
}

/** An E2B path (absolute, or relative to /home/user) as the sandbox's own. */
export function sandboxPath(path: string): string {
  if (!path.startsWith("/")) return path === "" ? SANDBOX_DIR : `${SANDBOX_DIR}/${path}`;
  const rest = under(path, E2B_HOME);
  return rest === undefined ? path : `${SANDBOX_DIR}${rest}`;
}

/** A sandbox path as E2B code knows it (/sandbox/x is /home/user/x). */
export function e2bPath(path: string): string {
  const rest = under(path, SANDBOX_DIR);
  return rest === undefined ? path : `${E2B_HOME}${rest}`;
}

/**
 * Why a user other than E2B's default is refused (undefined: it is not):
 * every process and file operation of an isol8 sandbox is the sandbox
 * user's, never root's.
 */
export function userRefusal(user: string | undefined): string | undefined {
  if (user === undefined || user === "" || user === E2B_USER) return undefined;
  return `user: isol8 runs everything in a sandbox as its unprivileged user ("${E2B_USER}"); ${JSON.stringify(user)} is refused`;
}

/** The same refusal for envd's REST routes: 403. */
export function checkUser(user: string | undefined): void {
  const refusal = userRefusal(user);
  if (refusal) throw new HttpError(403, refusal);
}

/** The user named by envd's `Authorization: Basic <user:>` header, if any. */
export function basicUser(header: string | undefined): string | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? "");
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? decoded : decoded.slice(0, colon);
}
