/** The sandbox an envd request was admitted to and the user it names, handed to the services through Connect's context values. */
import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Sandbox } from "../../sandbox/sandbox.js";
import { userRefusal } from "./paths.js";

export const SANDBOX = createContextKey<Sandbox | undefined>(undefined, {
  description: "the sandbox of an envd request",
});

/** The user a request asked to act as (envd's `Authorization: Basic <user>:`), if it named one. */
export const USER = createContextKey<string | undefined>(undefined, {
  description: "the user an envd request names",
});

/** The request's sandbox, once it is known to run and the request asks for no user but the sandbox user. */
export function sandboxOf(context: HandlerContext): Sandbox {
  const refusal = userRefusal(context.values.get(USER));
  if (refusal) throw new ConnectError(refusal, Code.PermissionDenied);
  const sandbox = context.values.get(SANDBOX);
  if (!sandbox) throw new ConnectError("no sandbox for this request", Code.Internal);
  if (sandbox.state !== "running")
    throw new ConnectError("the sandbox has ended", Code.Unavailable);
  return sandbox;
}
