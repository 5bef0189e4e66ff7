/**
 * E2B's API on an isol8 server, under /e2b: an E2B SDK given
 * `E2B_API_URL` and `E2B_SANDBOX_URL` of http://<server>/e2b and an isol8
 * API key as `E2B_API_KEY` runs unchanged. A request that names a sandbox
 * (`E2b-Sandbox-Id`, as the SDKs send to envd) goes to that sandbox's
 * envd (or, with `E2b-Sandbox-Port: 49999`, its code interpreter),
 * admitted by its access token; every other request is the control plane,
 * admitted by the API key in `X-API-Key`.
 */
import { Hono } from "hono";
import { answerFor } from "../server/answer-for.js";
import type { AppEnv } from "../server/app-env.js";
import type { ServerContext } from "../server/context.js";
import { HttpError } from "../server/errors.js";
import { controlPlaneRoutes } from "./control-plane.js";
import { envdFiles } from "./envd/files-route.js";
import { basicUser, checkUser } from "./envd/paths.js";
import { envdRpc } from "./envd/router.js";
import { e2bErrorAnswer } from "./errors.js";
import { INTERPRETER_PORT, Interpreter } from "./interpreter/routes.js";
import { E2B_BASE_PATH } from "./mount.js";
import { E2bSandboxes } from "./sandboxes.js";

export function e2bApp(ctx: ServerContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const sandboxes = new E2bSandboxes(ctx);
  const rpc = envdRpc();
  const interpreter = new Interpreter();

  app.use("*", async (c, next) => {
    const sandboxId = c.req.header("e2b-sandbox-id");
    if (sandboxId === undefined) {
      const outcome = ctx.authenticator.authenticate(
        c.req.header("x-api-key") === undefined
          ? c.req.header("authorization")
          : `Bearer ${c.req.header("x-api-key")}`,
      );
      if (!outcome.ok) throw new HttpError(outcome.status, outcome.error);
      c.set("principal", outcome.principal);
      return next();
    }
    const path = c.req.path.slice(E2B_BASE_PATH.length);
    if (c.req.header("e2b-sandbox-port") === INTERPRETER_PORT) {
      // The code interpreter's SDK sends the traffic token on every call, the access token on some.
      const token = c.req.header("x-access-token") ?? c.req.header("e2b-traffic-access-token");
      return interpreter.answer(c, sandboxes.forEnvd(sandboxId, token), path);
    }
    const sandbox = sandboxes.forEnvd(sandboxId, c.req.header("x-access-token"));
    const user = basicUser(c.req.header("authorization"));
    if (path === "/health") return c.body(null, 204);
    if (path === "/files") {
      checkUser(user);
      return envdFiles(ctx, c, sandbox);
    }
    const answer = rpc(c.req.raw, path, sandbox, user);
    if (!answer) throw new HttpError(404, `envd has no route ${c.req.method} ${path}`);
    return answer;
  });
  app.route("/", controlPlaneRoutes(ctx, sandboxes));
  // A sub-app's notFound is not the mounting app's: the last route answers what no other did.
  app.all("*", (c) => {
    throw new HttpError(404, `no route ${c.req.method} ${c.req.path}`);
  });
  app.onError(async (error, c) => e2bErrorAnswer(c, await answerFor(ctx, c, error)));
  return app;
}
