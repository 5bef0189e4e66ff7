// The wire schemas: each bound and shape rule a request body must meet, at
// its edge, with the 400 message the server answers with.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { z } from "zod";
import { HttpError } from "../../src/server/errors.js";
import { parse } from "../../src/server/validate.js";
import {
  cleanupBodySchema,
  createContextBodySchema,
  createKeyBodySchema,
  deleteSessionQuerySchema,
  executeBodySchema,
  executionOptionsSchema,
  executionRequestSchema,
  getFileQuerySchema,
  listKeysQuerySchema,
  loginBodySchema,
  METADATA_LIMITS,
  moveKeyBodySchema,
  putFileBodySchema,
  sessionIdSchema,
  wsControlSchema,
  wsExecuteSchema,
} from "../../src/wire/schemas.js";

/** The 400 message for `value`, or undefined when it is accepted. */
function problem(schema: z.ZodType, value: unknown): string | undefined {
  try {
    parse(schema, value);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof HttpError && error.status === 400, String(error));
    return error.message;
  }
}

const ok = (schema: z.ZodType, value: unknown) =>
  assert.equal(problem(schema, value), undefined, JSON.stringify(value));
const refused = (schema: z.ZodType, value: unknown, message: string) =>
  assert.equal(problem(schema, value), message, JSON.stringify(value));

/** The path a message names for a record's key: the key is left out when empty. */
const at = (field: string, key: string) => [field, key].filter(Boolean).join(".");

const run = (extra: object) => ({ runtime: "python", code: "print(1)", ...extra });

describe("execution request", () => {
  test("exactly one of code, codeUrl and cmd, none blank", () => {
    const message = "code: give exactly one of code, codeUrl and cmd, not blank";
    ok(executionRequestSchema, { runtime: "bash", cmd: "ls" });
    ok(executionRequestSchema, { runtime: "bash", codeUrl: "https://example.com/a.sh" });
    ok(executionRequestSchema, { runtime: "bash", code: "ls", cmd: "" });
    refused(executionRequestSchema, { runtime: "bash" }, message);
    refused(executionRequestSchema, { runtime: "bash", code: " \n" }, message);
    refused(executionRequestSchema, { runtime: "bash", code: "ls", cmd: "ls" }, message);
    refused(
      executionRequestSchema,
      { runtime: "bash", code: "ls", codeUrl: "https://example.com/a.sh" },
      message,
    );
  });

  test("runtimes and unknown fields", () => {
    for (const runtime of ["python", "node", "bun", "deno", "bash"])
      ok(executionRequestSchema, { runtime, code: "1" });
    assert.match(
      problem(executionRequestSchema, { runtime: "ruby", code: "1" }) ?? "",
      /^runtime:/,
    );
    assert.match(problem(executionRequestSchema, run({ shell: "sh" })) ?? "", /shell/);
  });

  test("environment variable names", () => {
    for (const name of ["A", "_", "a_B9", "PATH"])
      ok(executionRequestSchema, run({ env: { [name]: "v" } }));
    for (const name of ["9A", "A-B", "A B", "", "A=B", "Ä"])
      refused(
        executionRequestSchema,
        run({ env: { [name]: "v" } }),
        `${at("env", name)}: not a valid environment variable name`,
      );
    refused(
      executionOptionsSchema,
      { secrets: { "x y": "v" } },
      "secrets.x y: not a valid environment variable name",
    );
    ok(executionOptionsSchema, { secrets: { TOKEN: "v" } });
  });

  test("files, filesBase64 and outputPaths stay under /sandbox", () => {
    for (const path of ["/sandbox", "/sandbox/a", "/sandbox/a/b.txt", "/sandbox/a..b"]) {
      ok(executionRequestSchema, run({ files: { [path]: "x" } }));
      ok(executionRequestSchema, run({ outputPaths: [path] }));
    }
    for (const path of ["/sandboxes/a", "/etc/passwd", "sandbox/a", "x/sandbox/a", "//sandbox/a"])
      refused(
        executionRequestSchema,
        run({ files: { [path]: "x" } }),
        `files.${path}: must be an absolute path under /sandbox`,
      );
    for (const path of ["/sandbox/../etc/passwd", "/sandbox/a/..", "/sandbox/.."])
      refused(
        executionRequestSchema,
        run({ outputPaths: [path] }),
        "outputPaths.0: must not contain ..",
      );
    ok(executionRequestSchema, run({ filesBase64: { "/sandbox/a": "aGk=" } }));
    assert.match(
      problem(executionRequestSchema, run({ filesBase64: { "/sandbox/a": "not base64!" } })) ?? "",
      /^filesBase64\.\/sandbox\/a:/,
    );
  });

  test("codeHash, fileExtension, timeoutMs and contextId", () => {
    ok(executionRequestSchema, run({ codeHash: "aB".repeat(32) }));
    for (const hash of ["a".repeat(63), "a".repeat(65), `${"a".repeat(63)}g`])
      refused(
        executionRequestSchema,
        run({ codeHash: hash }),
        "codeHash: must be a SHA-256 hex digest",
      );
    ok(executionRequestSchema, run({ fileExtension: ".py3" }));
    for (const ext of ["py", ".", ".p-y", "x.py", ".py "])
      refused(
        executionRequestSchema,
        run({ fileExtension: ext }),
        "fileExtension: must look like .ext",
      );
    ok(executionRequestSchema, run({ timeoutMs: 1 }));
    for (const timeoutMs of [0, -1, 1.5])
      assert.match(problem(executionRequestSchema, run({ timeoutMs })) ?? "", /^timeoutMs:/);
    ok(executionRequestSchema, run({ contextId: "c".repeat(128) }));
    for (const contextId of ["", "c".repeat(129)])
      assert.match(problem(executionRequestSchema, run({ contextId })) ?? "", /^contextId:/);
    for (const installPackages of [["requests"], []])
      ok(executionRequestSchema, run({ installPackages }));
    assert.match(
      problem(executionRequestSchema, run({ installPackages: [""] })) ?? "",
      /^installPackages\.0:/,
    );
  });
});

describe("request metadata", () => {
  const meta = (metadata: unknown) => problem(executionRequestSchema, run({ metadata }));

  test("keys: 1-64 letters, digits, '.', '_', ':' or '-'", () => {
    const message = "a key must be 1-64 letters, digits, '.', '_', ':' or '-'";
    assert.equal(meta({ "a.B_9:-": "v", ["k".repeat(64)]: "v" }), undefined);
    for (const key of ["", "k".repeat(65), "a b", "a/b", "ä"])
      assert.equal(meta({ [key]: "v" }), `${at("metadata", key)}: ${message}`, key);
  });

  test("values: at most 1024 UTF-8 bytes", () => {
    assert.equal(meta({ k: "é".repeat(METADATA_LIMITS.valueBytes / 2) }), undefined);
    assert.equal(
      meta({ k: `${"é".repeat(METADATA_LIMITS.valueBytes / 2)}x` }),
      "metadata.k: longer than 1024 bytes",
    );
  });

  test("at most 32 entries", () => {
    const entries = (n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, ""]));
    assert.equal(meta(entries(32)), undefined);
    assert.equal(meta(entries(33)), "metadata: more than 32 entries");
  });

  test("at most 4096 UTF-8 bytes of keys and values together", () => {
    // Four entries of a 2-byte key and a 1022-byte value: 4096 bytes exactly.
    const value = "é".repeat(511);
    const full = { k1: value, k2: value, k3: value, k4: value };
    assert.equal(meta(full), undefined);
    assert.equal(
      meta({ ...full, k4: `${value}x` }),
      "metadata: keys and values together are longer than 4096 bytes",
    );
    // Keys count too.
    assert.equal(
      meta({ k1: value, k2: value, k3: value, k40: value }),
      "metadata: keys and values together are longer than 4096 bytes",
    );
  });
});

describe("execution options", () => {
  test("ports are whole numbers 1-65535", () => {
    ok(executionOptionsSchema, { networkFilter: { ports: [1, 65535] } });
    for (const port of [0, 65536, 80.5])
      assert.match(
        problem(executionOptionsSchema, { networkFilter: { ports: [port] } }) ?? "",
        /^networkFilter\.ports\.0:/,
      );
    assert.match(problem(executionOptionsSchema, { networkFilter: { hosts: [] } }) ?? "", /hosts/);
  });

  test("numbers are positive, and whole where they count", () => {
    ok(executionOptionsSchema, { cpuLimit: 0.5, timeoutMs: 1, pidsLimit: 1, maxOutputSize: 1 });
    for (const key of ["cpuLimit", "timeoutMs", "pidsLimit", "maxOutputSize"])
      assert.match(problem(executionOptionsSchema, { [key]: 0 }) ?? "", new RegExp(`^${key}:`));
    for (const key of ["timeoutMs", "pidsLimit", "maxOutputSize"])
      assert.match(problem(executionOptionsSchema, { [key]: 1.5 }) ?? "", new RegExp(`^${key}:`));
  });

  test("security: the modes, and a registered profile's name of 1-64 characters", () => {
    for (const seccomp of ["strict", "unconfined", "custom"])
      ok(executionOptionsSchema, { security: { seccomp } });
    assert.match(
      problem(executionOptionsSchema, { security: { seccomp: "off" } }) ?? "",
      /^security\.seccomp:/,
    );
    ok(executionOptionsSchema, { security: { seccomp: "custom", customProfile: "p".repeat(64) } });
    for (const customProfile of ["", "p".repeat(65)])
      assert.match(
        problem(executionOptionsSchema, { security: { customProfile } }) ?? "",
        /^security\.customProfile:/,
      );
    assert.match(
      problem(executionOptionsSchema, { security: { apparmor: "x" } }) ?? "",
      /apparmor/,
    );
    assert.match(problem(executionOptionsSchema, { image: "" }) ?? "", /^image:/);
    assert.match(problem(executionOptionsSchema, { network: "bridge" }) ?? "", /^network:/);
    for (const network of ["none", "host", "filtered"]) ok(executionOptionsSchema, { network });
  });
});

describe("session ids and the other bodies", () => {
  test("a session id is 1-128 characters starting with a letter or digit", () => {
    const message =
      "body: must be 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit";
    for (const id of ["a", "9", `a${"._:-".repeat(31)}xyz`, "s".repeat(128)])
      ok(sessionIdSchema, id);
    for (const id of ["", "-a", ".a", "s".repeat(129), "a b", "a/b"])
      refused(sessionIdSchema, id, message);
  });

  test("execute bodies, over HTTP and WebSocket", () => {
    ok(executeBodySchema, { request: run({}), options: {}, sessionId: "s" });
    assert.match(problem(executeBodySchema, { request: run({}), extra: 1 }) ?? "", /extra/);
    ok(wsExecuteSchema, { type: "execute", request: run({}) });
    assert.match(problem(wsExecuteSchema, { type: "run", request: run({}) }) ?? "", /^type:/);
    ok(wsControlSchema, { type: "stdin", data: "x", eof: true });
    ok(wsControlSchema, { type: "signal", signal: "SIGTERM" });
    ok(wsControlSchema, { type: "signal", signal: "SIGINT" });
    for (const message of [
      { type: "signal", signal: "SIGKILL" },
      { type: "stdin", data: "x", signal: "SIGINT" },
      { type: "resize" },
    ])
      assert.ok(problem(wsControlSchema, message), JSON.stringify(message));
  });

  test("contexts, files and cleanup", () => {
    ok(createContextBodySchema, { runtime: "python", options: { pidsLimit: 8 } });
    assert.ok(problem(createContextBodySchema, { runtime: "python", code: "1" }));
    ok(putFileBodySchema, { sessionId: "s", path: "/sandbox/a", content: "aGk=", contextId: "c" });
    for (const body of [
      { sessionId: "s", path: "", content: "" },
      { sessionId: "s", path: "/sandbox/a", content: "%%" },
      { sessionId: "s", path: "/sandbox/a", content: "", contextId: "" },
    ])
      assert.ok(problem(putFileBodySchema, body), JSON.stringify(body));
    ok(getFileQuerySchema, { sessionId: "s", path: "/sandbox/a" });
    for (const query of [
      { sessionId: "s", path: "" },
      { sessionId: "s", path: "/a", contextId: "" },
    ])
      assert.ok(problem(getFileQuerySchema, query), JSON.stringify(query));
    ok(cleanupBodySchema, { images: true });
    assert.ok(problem(cleanupBodySchema, { containers: true }));
  });

  test("keys, logins and tenants: names of 1-200 characters, positive whole lifetimes", () => {
    const name = "n".repeat(200);
    ok(createKeyBodySchema, { name, tenantId: name, ttlMs: 1 });
    ok(loginBodySchema, { name, tenantId: name, ttlMs: 1 });
    ok(moveKeyBodySchema, { tenantId: name });
    ok(deleteSessionQuerySchema, { tenantId: name });
    ok(listKeysQuerySchema, { tenantId: "t" });
    for (const [schema, body] of [
      [createKeyBodySchema, { name: "" }],
      [createKeyBodySchema, { name: `${name}n` }],
      [createKeyBodySchema, { name: "n", tenantId: "" }],
      [createKeyBodySchema, { name: "n", tenantId: `${name}n` }],
      [createKeyBodySchema, { name: "n", ttlMs: 0 }],
      [createKeyBodySchema, { name: "n", ttlMs: 1.5 }],
      [loginBodySchema, { name: "" }],
      [loginBodySchema, { name: `${name}n` }],
      [loginBodySchema, { tenantId: "" }],
      [loginBodySchema, { tenantId: `${name}n` }],
      [loginBodySchema, { ttlMs: -1 }],
      [moveKeyBodySchema, { tenantId: "" }],
      [moveKeyBodySchema, { tenantId: `${name}n` }],
      [deleteSessionQuerySchema, { tenantId: "" }],
      [deleteSessionQuerySchema, { tenantId: `${name}n` }],
      [listKeysQuerySchema, { tenantId: "" }],
    ] as const)
      assert.ok(problem(schema, body), JSON.stringify(body));
  });
});
