import { seccompSecurityOpt } from "../engine/seccomp.js";
import type { SecurityOptions } from "../types.js";
import type { ExecutionOptions } from "../wire/schemas.js";
import { HttpError } from "./errors.js";

/** Registered seccomp profiles: a name a client may send, the file the operator chose for it. */
type SeccompProfiles = Record<string, string>;

/**
 * Reads every registered profile once at start, so that a missing or broken
 * file stops the server with the operator's path rather than failing a
 * client's request later.
 */
export function checkSeccompProfiles(profiles: SeccompProfiles): void {
  for (const [name, path] of Object.entries(profiles)) {
    try {
      seccompSecurityOpt({ mode: "custom", customProfilePath: path });
    } catch (error) {
      throw new Error(`server config: policy.seccompProfiles.${name}: ${(error as Error).message}`);
    }
  }
}

/**
 * The engine's security options for a client's `options.security`. A client
 * never names a file on the server: `custom` takes `customProfile`, the name
 * of a profile the operator registered in `policy.seccompProfiles`, and the
 * engine gets that profile's path. Messages name the field and the
 * registered names, never a path or a file's content.
 */
export function chooseSeccomp(
  security: ExecutionOptions["security"],
  profiles: SeccompProfiles,
): SecurityOptions {
  const { seccomp = "strict", customProfile, customProfilePath } = security ?? {};
  if (customProfilePath !== undefined)
    throw new HttpError(
      400,
      "options.security.customProfilePath: a server never reads a file its client names; give the name of a profile it registers as options.security.customProfile",
    );
  if (seccomp !== "custom") {
    if (customProfile !== undefined)
      throw new HttpError(
        400,
        'options.security.customProfile: needs options.security.seccomp "custom"',
      );
    return { seccomp };
  }
  const names = Object.keys(profiles);
  if (names.length === 0)
    throw new HttpError(
      403,
      "options.security.seccomp: custom profiles are not allowed by this server's policy (it registers none)",
    );
  const known = `this server registers ${names.map((n) => JSON.stringify(n)).join(", ")}`;
  if (customProfile === undefined)
    throw new HttpError(
      400,
      `options.security.customProfile: required with seccomp "custom"; ${known}`,
    );
  const path = Object.hasOwn(profiles, customProfile) ? profiles[customProfile] : undefined;
  if (path === undefined)
    throw new HttpError(
      400,
      `options.security.customProfile: ${JSON.stringify(customProfile)} is not a registered profile; ${known}`,
    );
  return { seccomp: "custom", customProfilePath: path };
}
