/** isol8's file errors as what envd answers for them: Connect codes for the RPCs, HTTP statuses for /files. */
import { Code, ConnectError } from "@connectrpc/connect";
import { SandboxFileError } from "../../engine/session-files.js";
import { SandboxFileNotFoundError, SandboxFileRefusedError } from "../../sandbox/errors.js";
import { HttpError } from "../../server/errors.js";

function codeOf(error: SandboxFileError): Code {
  if (error instanceof SandboxFileNotFoundError) return Code.NotFound;
  if (error instanceof SandboxFileRefusedError) return Code.PermissionDenied;
  if (/EEXIST/.test(error.reason)) return Code.AlreadyExists;
  return Code.InvalidArgument;
}

/** A file operation's failure as a Connect error (anything else is rethrown as it is). */
export function connectFileError(error: unknown): never {
  if (error instanceof SandboxFileError) throw new ConnectError(error.message, codeOf(error));
  throw error;
}

/** The same failure as an HTTP error of envd's /files route. */
export function httpFileError(error: unknown): never {
  if (error instanceof SandboxFileNotFoundError) throw new HttpError(404, error.message);
  if (error instanceof SandboxFileRefusedError) throw new HttpError(403, error.message);
  if (error instanceof SandboxFileError) throw new HttpError(400, error.message);
  throw error;
}
