/** The sandbox an envd request was admitted to, handed to the services through Connect's context values. */
import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Sandbox } from "../../sandbox/sandbox.js";

export const SANDBOX = createContextKey<Sandbox | undefined>(undefined, {
  description: "the sandbox of an envd request",
});

export function sandboxOf(context: HandlerContext): Sandbox {
  const sandbox = context.values.get(SANDBOX);
  if (!sandbox) throw new ConnectError("no sandbox for this request", Code.Internal);
  if (sandbox.state !== "running")
    throw new ConnectError("the sandbox has ended", Code.Unavailable);
  return sandbox;
}
