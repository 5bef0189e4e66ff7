// The document GET /openapi.json serves, checked by tools that know
// nothing of isol8: Redocly's linter, openapi-typescript's types compiled
// against a client of every route, and ajv against the app's own answers
// (handed to the Hono app in this process; none of these reaches Docker).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import openapiTS, { astToString } from "openapi-typescript";
import { TYPED_CLIENT } from "../fixtures/openapi-client.js";
import { documentChecker, type OpenApiDocument } from "../support/openapi.js";
import { run, startServer } from "../support/server.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const run$ = promisify(execFile);

const srv = await startServer({ maxBodyBytes: 64 * 1024 });
const document = (await (await srv.request("/openapi.json")).json()) as OpenApiDocument;
const checker = documentChecker(document);

const scratch = mkdtempSync(join(tmpdir(), "isol8-openapi-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A document as plain JSON, edited by path in the tests of drifted documents. */
// biome-ignore lint/suspicious/noExplicitAny: the edits reach into the document by JSON path.
type Json = any;

/** The document with `change` applied to a copy, for the checks that must fail on a drifted one. */
function drifted(change: (copy: Json) => void): OpenApiDocument {
  const copy: Json = structuredClone(document);
  change(copy);
  return copy as OpenApiDocument;
}

interface LintProblem {
  ruleId: string;
  severity: "error" | "warn";
  message: string;
  location: { pointer: string }[];
}

/** Redocly's CLI on `doc`, with its recommended rules (the folder holds no config of its own). */
async function lint(doc: unknown, name: string): Promise<LintProblem[]> {
  const dir = mkdtempSync(join(scratch, "lint-"));
  writeFileSync(join(dir, name), JSON.stringify(doc, null, 2));
  const cli = join(ROOT, "node_modules/@redocly/cli/bin/cli.js");
  const outcome = await run$(process.execPath, [cli, "lint", name, "--format=json"], {
    cwd: dir,
    env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? "" }));
  return (JSON.parse(outcome.stdout) as { problems: LintProblem[] }).problems;
}

/** openapi-typescript's `paths` for `doc`, then tsc on the typed client of every route; tsc's output. */
async function typeCheckClient(doc: unknown): Promise<{ ok: boolean; output: string }> {
  const dir = mkdtempSync(join(scratch, "types-"));
  writeFileSync(join(dir, "api.ts"), astToString(await openapiTS(doc as never)));
  writeFileSync(join(dir, "client.ts"), TYPED_CLIENT);
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        lib: ["ES2022", "DOM"],
        types: [],
        noUnusedLocals: false,
      },
      files: ["client.ts"],
    }),
  );
  const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
  try {
    await run$(process.execPath, [tsc, "-p", dir], { maxBuffer: 16 * 1024 * 1024 });
    return { ok: true, output: "" };
  } catch (error) {
    return { ok: false, output: String((error as { stdout?: string }).stdout) };
  }
}

describe("the document", () => {
  test("Redocly's recommended rules find no error; the only warnings are the justified ones", async () => {
    const problems = await lint(document, "openapi.json");
    assert.deepEqual(
      problems.filter((p) => p.severity === "error"),
      [],
    );
    // Each warning is one the API cannot avoid:
    const justified = [
      // /health is public and has no request to refuse: it never answers 4xx.
      "operation-4xx-response #/paths/~1health/get/responses",
      // A WebSocket upgrade succeeds with 101; OpenAPI has no 1xx-only operation.
      "operation-2xx-response #/paths/~1execute~1ws/get/responses",
      // What a client sends on the WebSocket: OpenAPI has no place for those
      // messages, so only an extension (x-client-messages) refers to them.
      "no-unused-components #/components/schemas/ExecuteMessage",
      "no-unused-components #/components/schemas/ControlMessage",
    ];
    assert.deepEqual(
      problems.map((p) => `${p.ruleId} ${p.location[0]?.pointer}`).sort(),
      justified.sort(),
    );
  });

  test("the linter fails a document without servers or an operationId", async () => {
    const broken = drifted((doc) => {
      delete doc.servers;
      delete doc.paths["/execute"].post.operationId;
    });
    const rules = (await lint(broken, "broken.json")).map((p) => `${p.severity} ${p.ruleId}`);
    assert.ok(rules.includes("error no-empty-servers"), rules.join(", "));
    assert.ok(rules.includes("warn operation-operationId"), rules.join(", "));
  });

  test("every operation has an operationId, a tag, a summary and the bearer scheme unless public", () => {
    const doc = document as OpenApiDocument & {
      security: unknown;
      servers: unknown[];
      components: { securitySchemes: Record<string, unknown> };
    };
    assert.deepEqual(doc.security, [{ bearer: [] }]);
    assert.deepEqual(doc.components.securitySchemes.bearer, {
      type: "http",
      scheme: "bearer",
      description:
        "the master key, an API key (POST /auth/keys) or a login token (POST /auth/login)",
    });
    assert.equal(doc.servers.length, 1);
    const ids = new Set<string>();
    for (const [path, operations] of Object.entries(document.paths))
      for (const [method, operation] of Object.entries(operations)) {
        const op = operation as { operationId?: string; tags?: string[]; summary?: string };
        assert.ok(op.operationId, `${method} ${path}`);
        assert.ok(!ids.has(op.operationId), `${op.operationId} twice`);
        ids.add(op.operationId);
        assert.equal(op.tags?.length, 1, `${method} ${path}`);
        assert.ok(op.summary, `${method} ${path}`);
      }
    assert.equal(ids.size, 41);
    const health = document.paths["/health"]?.get as { security?: unknown } | undefined;
    assert.deepEqual(health?.security, []);
  });

  test("openapi-typescript's types compile a typed call of every route", async () => {
    const outcome = await typeCheckClient(document);
    assert.ok(outcome.ok, outcome.output);
  });

  test("the typed client does not compile against a document that lacks result.files or says 200 for a 201", async () => {
    const outcome = await typeCheckClient(
      drifted((doc) => {
        delete doc.components.schemas.ExecutionResult.properties.files;
        const responses = doc.paths["/session/{id}/context"].post.responses;
        responses["200"] = responses["201"];
        delete responses["201"];
      }),
    );
    assert.equal(outcome.ok, false);
    assert.match(outcome.output, /Property 'files' does not exist/);
    assert.match(outcome.output, /Argument of type '201' is not assignable/);
  });
});

describe("the app's answers match the document", () => {
  test("health, sessions, keys, login, metrics and the document itself", async () => {
    await checker.answer("get", "/health", await srv.request("/health", { key: null }));
    await checker.answer("get", "/sessions", await srv.request("/sessions"));
    await checker.answer("get", "/openapi.json", await srv.request("/openapi.json"));
    const metrics = await checker.answer("get", "/metrics", await srv.request("/metrics"));
    assert.match(String(metrics), /isol8_http_requests_total/);

    const made = (await checker.answer(
      "post",
      "/auth/keys",
      await srv.request("/auth/keys", {
        method: "POST",
        body: JSON.stringify({ name: "documented", ttlMs: 60_000 }),
      }),
    )) as { id: string; tenantId: string };
    const listed = (await checker.answer(
      "get",
      "/auth/keys",
      await srv.request(`/auth/keys?tenantId=${made.tenantId}`),
    )) as { keys: unknown[] };
    assert.equal(listed.keys.length, 1);
    await checker.answer(
      "patch",
      "/auth/keys/{id}",
      await srv.request(`/auth/keys/${made.id}`, {
        method: "PATCH",
        body: JSON.stringify({ tenantId: "moved" }),
      }),
    );
    await checker.answer(
      "delete",
      "/auth/keys/{id}",
      await srv.request(`/auth/keys/${made.id}`, { method: "DELETE" }),
    );
    await checker.answer(
      "post",
      "/auth/login",
      await srv.request("/auth/login", { method: "POST", body: "" }),
    );
  });

  test("refusals: 400, 401, 403, 404, 413 and 426 are documented where they happen", async () => {
    const answers: [string, string, Response][] = [
      ["post", "/execute", await srv.request("/execute", { method: "POST", body: "{}" })],
      [
        "post",
        "/execute/stream",
        await srv.request("/execute/stream", { method: "POST", body: run("", {}) }),
      ],
      ["get", "/sessions", await srv.request("/sessions", { key: null })],
      ["get", "/sessions", await srv.request("/sessions", { key: "not-a-key" })],
      ["get", "/file", await srv.request("/file?sessionId=none&path=/sandbox/a")],
      ["get", "/file", await srv.request("/file?sessionId=none")],
      ["delete", "/session/{id}", await srv.request("/session/none", { method: "DELETE" })],
      ["delete", "/session/{id}", await srv.request("/session/-bad", { method: "DELETE" })],
      ["get", "/session/{id}/context", await srv.request("/session/none/context")],
      [
        "post",
        "/session/{id}/context/{cid}/reset",
        await srv.request("/session/none/context/c/reset", { method: "POST" }),
      ],
      ["delete", "/auth/keys/{id}", await srv.request("/auth/keys/none", { method: "DELETE" })],
      ["get", "/execute/ws", await srv.request("/execute/ws")],
      [
        "post",
        "/auth/keys",
        await srv.request("/auth/keys", {
          method: "POST",
          body: JSON.stringify({ name: "x".repeat(100 * 1024) }),
        }),
      ],
    ];
    const statuses = [];
    for (const [method, path, response] of answers) {
      statuses.push(response.status);
      const body = (await checker.answer(method, path, response)) as { error: string };
      assert.ok(body.error.length > 0);
    }
    assert.deepEqual(statuses, [400, 400, 401, 403, 404, 400, 404, 400, 404, 404, 404, 426, 413]);
  });

  test("an answer the document does not declare is caught", async () => {
    const strict = documentChecker(
      drifted((doc) => {
        delete doc.paths["/health"].get.responses["200"];
        doc.components.schemas.Session.required.push("createdAt");
      }),
    );
    await assert.rejects(
      strict.answer("get", "/health", await srv.request("/health", { key: null })),
      /does not declare this status/,
    );
    assert.throws(
      () =>
        strict.component("Session", {
          id: "a",
          tenantId: "t",
          isActive: false,
          lastAccessedAt: "now",
        }),
      /createdAt/,
    );
  });
});

describe("POST /file to a session that does not exist", () => {
  test("is a 404 like GET /file, and makes no session", async () => {
    const put = await srv.request("/file", {
      method: "POST",
      body: JSON.stringify({ sessionId: "never-made", path: "/sandbox/a", content: "aGk=" }),
    });
    assert.equal(put.status, 404);
    assert.deepEqual(await checker.answer("post", "/file", put), {
      error: 'no session "never-made"',
    });
    const get = await srv.request("/file?sessionId=never-made&path=/sandbox/a");
    assert.deepEqual([get.status, await get.json()], [404, { error: 'no session "never-made"' }]);
    const sessions = (await (await srv.request("/sessions")).json()) as { sessions: unknown[] };
    assert.deepEqual(sessions.sessions, []);
  });

  test("createSession must be a boolean", async () => {
    const put = await srv.request("/file", {
      method: "POST",
      body: JSON.stringify({ sessionId: "s", path: "/sandbox/a", content: "", createSession: 1 }),
    });
    assert.equal(put.status, 400);
    assert.match(((await put.json()) as { error: string }).error, /^createSession: /);
  });
});
