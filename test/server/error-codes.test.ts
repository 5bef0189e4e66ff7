// A refusal the library makes locally too is answered with that class's
// code, and RemoteIsol8 throws the class; other refusals carry no code and
// stay RemoteErrors.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import {
  InvalidOptionError,
  InvalidRequestError,
  RemoteError,
  RemoteIsol8,
  SandboxFileError,
} from "../../src/index.js";
import { MASTER, run, startServer } from "../support/server.js";

const srv = await startServer();

async function answer(path: string, body: string): Promise<{ status: number; body: unknown }> {
  const response = await srv.request(path, { method: "POST", body });
  return { status: response.status, body: await response.json() };
}

describe("refusal codes", () => {
  test("a bad request field is INVALID_REQUEST, a bad option INVALID_OPTION, a policy refusal has none", async () => {
    assert.deepEqual(await answer("/execute", run("1", { timeoutMs: -5 })), {
      status: 400,
      body: {
        error: "request.timeoutMs: Too small: expected number to be >0",
        code: "INVALID_REQUEST",
      },
    });
    const option = await answer("/execute", run("1", { options: { cpuLimit: -1 } }));
    assert.equal(option.status, 400);
    assert.equal((option.body as { code?: string }).code, "INVALID_OPTION");
    const policy = await answer("/execute", run("1", { options: { network: "host" } }));
    assert.equal(policy.status, 403);
    assert.deepEqual(Object.keys(policy.body as object), ["error"]);
  });

  test("RemoteIsol8 throws the class the code names, and a RemoteError for the rest", async () => {
    const remote = srv.remote(undefined, { sessionId: `codes-${randomUUID()}` });
    try {
      await assert.rejects(
        remote.execute({ runtime: "python", code: "1", timeoutMs: -5 }),
        InvalidRequestError,
      );
      await assert.rejects(
        new RemoteIsol8({ host: srv.url, apiKey: MASTER }, { cpuLimit: -1 }).execute({
          runtime: "python",
          code: "1",
        }),
        (error: unknown) =>
          error instanceof InvalidOptionError && !(error instanceof InvalidRequestError),
      );
      await remote.putFile("/sandbox/here.txt", "x");
      await assert.rejects(remote.getFile("/sandbox/missing.txt"), (error: unknown) => {
        assert.ok(error instanceof SandboxFileError, String(error));
        assert.equal(error.path, "/sandbox/missing.txt");
        return true;
      });
      await assert.rejects(
        srv.remote("not-a-key").execute({ runtime: "python", code: "1" }),
        (error: unknown) => error instanceof RemoteError && error.status === 403,
      );
    } finally {
      await remote.stop();
    }
  });
});
