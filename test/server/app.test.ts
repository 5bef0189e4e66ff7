// The HTTP API's rules that need no running program: auth, validation,
// limits, policy refusals, keys, tenancy of key routes, OpenAPI. Most are
// handed to the app object in this process (no socket); what a client sees
// over a connection (the clients' errors, a refused body's connection) goes
// over a real loopback socket.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import { RemoteError } from "../../src/client/remote-error.js";
import { startHttpUpstream } from "../fixtures/upstreams.js";
import { MASTER, run, startServer } from "../support/server.js";

const srv = await startServer({ maxBodyBytes: 64 * 1024 });

async function json(response: Response) {
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("health and auth", () => {
  test("GET /health needs no key, on the app object and over a socket", async () => {
    const direct = await srv.server.app.request("/health");
    assert.deepEqual(await direct.json(), { status: "ok", version: "0.0.0-test" });
    const remote = await srv.call("/health", { key: null });
    assert.equal(remote.status, 200);
    await srv.remote("wrong key").start(); // health needs no key, so a wrong one does not matter
  });

  test("no key: 401; a wrong key: 403; both JSON", async () => {
    const missing = await json(await srv.call("/sessions", { key: null }));
    assert.equal(missing.status, 401);
    assert.match(String(missing.body.error), /Bearer/);
    const wrong = await json(await srv.call("/sessions", { key: "not-a-key" }));
    assert.deepEqual(wrong, { status: 403, body: { error: "invalid API key" } });
    await assert.rejects(srv.remote("not-a-key").listSessions(), (e: unknown) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.status, 403);
      assert.equal(e.message, "invalid API key");
      return true;
    });
  });

  test("an unknown route is a JSON 404", async () => {
    const answer = await json(await srv.request("/no/such/route"));
    assert.deepEqual(answer, { status: 404, body: { error: "no route GET /no/such/route" } });
    const wrongMethod = await json(await srv.request("/health", { method: "DELETE" }));
    assert.equal(wrongMethod.status, 404);
  });
});

describe("validation", () => {
  const post = (body: string) => srv.request("/execute", { method: "POST", body });

  test("400 names the field path and the problem", async () => {
    const cases: [string, RegExp][] = [
      [JSON.stringify({ request: { runtime: "cobol", code: "x" } }), /^request\.runtime: /],
      [
        JSON.stringify({ request: { runtime: "python" } }),
        /^request\.code: give exactly one of code, codeUrl and cmd/,
      ],
      [
        JSON.stringify({ request: { runtime: "python", code: "1", cmd: "ls" } }),
        /request\.code: give exactly one/,
      ],
      [
        JSON.stringify({ request: { runtime: "python", code: "1", timeoutMs: -5 } }),
        /^request\.timeoutMs: /,
      ],
      [
        JSON.stringify({ request: { runtime: "python", code: "1", env: { "1BAD": "x" } } }),
        /^request\.env\.1BAD: /,
      ],
      [
        JSON.stringify({ request: { runtime: "python", code: "1" }, options: { cpuLimit: "two" } }),
        /^options\.cpuLimit: /,
      ],
      [
        JSON.stringify({ request: { runtime: "python", code: "1" }, options: { persist: true } }),
        /options.*persist/,
      ],
      [
        JSON.stringify({ request: { runtime: "python", code: "1" }, sessionId: "../x" }),
        /^sessionId: /,
      ],
      [
        JSON.stringify({
          request: { runtime: "python", code: "1", files: { "/etc/passwd": "x" } },
        }),
        /^request\.files\.\/etc\/passwd: must be an absolute path under \/sandbox/,
      ],
      [
        JSON.stringify({ request: { runtime: "node", code: "1", fileExtension: ".py" } }),
        /^request\.fileExtension: /,
      ],
      ["{not json", /^body: not valid JSON$/],
    ];
    for (const [body, expected] of cases) {
      const answer = await json(await post(body));
      assert.equal(answer.status, 400, body);
      assert.match(String(answer.body.error), expected, body);
    }
  });

  test("request fields the engine cannot honour yet are refused by name, never ignored", async () => {
    const workdir = await json(await post(run("print(1)", { workdir: "/sandbox/../etc" })));
    assert.equal(workdir.status, 400);
    assert.match(
      String(workdir.body.error),
      /^request\.workdir: "\/sandbox\/\.\.\/etc" is outside \/sandbox/,
    );
    const flag = await json(await post(run("print(1)", { installPackages: ["--index-url=x"] })));
    assert.equal(flag.status, 400);
    assert.match(
      String(flag.body.error),
      /^request\.installPackages\[0\]: "--index-url=x" is not a package name/,
    );
    const url = await json(
      await post(
        JSON.stringify({ request: { runtime: "python", codeUrl: "https://example.invalid/x.py" } }),
      ),
    );
    assert.equal(url.status, 403);
    assert.match(String(url.body.error), /^request\.codeUrl: remote code is not enabled/);
  });

  test("a body over the limit is 413, also without Content-Length", async () => {
    const big = run("x".repeat(80 * 1024));
    // Over the socket: what the server does with the connection is part of the answer.
    const response = await srv.call("/execute", { method: "POST", body: big });
    // The unread rest of the body spoils the connection: the client must not reuse it.
    assert.equal(response.headers.get("connection"), "close");
    const answer = await json(response);
    assert.equal(answer.status, 413);
    assert.match(String(answer.body.error), /larger than this server's limit of 65536 bytes/);
    const chunked = await srv.call("/execute", {
      method: "POST",
      body: new Blob([big]).stream(),
      duplex: "half",
    } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.equal(chunked.headers.get("connection"), "close");
    await chunked.body?.cancel();
  });
});

describe("policy", () => {
  const refusal = async (options: Record<string, unknown>) =>
    json(await srv.request("/execute", { method: "POST", body: run("print(1)", { options }) }));

  test("weakening the sandbox or asking beyond the limits is 403 with the reason", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ network: "host" }, /^options\.network: host networking is not allowed/],
      [
        { security: { seccomp: "unconfined" } },
        /^options\.security\.seccomp: unconfined is not allowed/,
      ],
      [
        { security: { seccomp: "custom", customProfile: "strict-plus" } },
        /custom profiles are not allowed/,
      ],
      [{ memoryLimit: "64g" }, /^options\.memoryLimit: 64g is above this server's limit of 2g$/],
      [{ cpuLimit: 64 }, /^options\.cpuLimit: 64 is above this server's limit of 2$/],
      [{ timeoutMs: 3_600_000 }, /^options\.timeoutMs: /],
      [{ maxOutputSize: 1e9 }, /^options\.maxOutputSize: /],
      [{ readonlyRootFs: false }, /^options\.readonlyRootFs: /],
      [{ image: "alpine" }, /^options\.image: custom images are not allowed/],
    ];
    for (const [options, expected] of cases) {
      const answer = await refusal(options);
      assert.equal(answer.status, 403, JSON.stringify(options));
      assert.match(String(answer.body.error), expected);
    }
    const perRequest = await json(
      await srv.request("/execute", { method: "POST", body: run("1", { timeoutMs: 999_999_999 }) }),
    );
    assert.equal(perRequest.status, 403);
    assert.match(String(perRequest.body.error), /^request\.timeoutMs: /);
  });

  test("filtered networking: the rules apply, the log comes back, bad filters are 400", async () => {
    // Reaching the test's upstream on loopback needs a rule naming 127.0.0.1: a server option.
    const permissive = await startServer({ policy: { allow: { internalAddresses: true } } });
    const upstream = await startHttpUpstream();
    try {
      const code = [
        "import urllib.request",
        "for url in URLS:",
        "    try: print(urllib.request.urlopen(url, timeout=10).read().decode())",
        "    except Exception as e: print('refused', e)",
      ].join("\n");
      const urls = [`http://localhost:${upstream.port}/via-server`, "http://elsewhere.test/"];
      const options = {
        network: "filtered",
        networkFilter: { whitelist: [`localhost:${upstream.port}`, "127\\.0\\.0\\.1"] },
        logNetwork: true,
      };
      const answer = await json(
        await permissive.call("/execute", {
          method: "POST",
          body: run(`URLS = ${JSON.stringify(urls)}\n${code}`, { options }),
        }),
      );
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.match(
        String(answer.body.stdout),
        /^upstream says GET \/via-server body=0\nrefused .*403/,
      );
      const logs = answer.body.networkLogs as { action: string; host: string }[];
      assert.deepEqual(
        logs.map((e) => `${e.action} ${e.host}`),
        ["ALLOW localhost", "BLOCK elsewhere.test"],
      );
    } finally {
      await upstream.close();
    }
    for (const [options, expected] of [
      [
        { network: "filtered", networkFilter: { whitelist: ["("] } },
        /networkFilter\.whitelist\[0\]: "\(" is not a valid regular expression/,
      ],
      [
        { networkFilter: { whitelist: ["x"] } },
        /^options\.networkFilter, options\.logNetwork: need options\.network "filtered"/,
      ],
    ] as const) {
      const refused = await refusal(options);
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.match(String(refused.body.error), expected);
    }
    const internal = await refusal({
      network: "filtered",
      networkFilter: { whitelist: ["169\\.254\\.169\\.254"] },
    });
    assert.equal(internal.status, 403);
    assert.match(
      String(internal.body.error),
      /^options\.networkFilter\.whitelist: "169\\\.254\\\.169\\\.254" names the internal address 169\.254\.169\.254/,
    );
  });

  test("RemoteIsol8 reports a policy refusal as a RemoteError with status 403", async () => {
    const remote = srv.remote(MASTER);
    const client = new (
      remote.constructor as typeof import("../../src/client/remote-isol8.js").RemoteIsol8
    )({ host: srv.url, apiKey: MASTER }, { network: "host" });
    await assert.rejects(client.execute({ runtime: "python", code: "1" }), {
      name: "RemoteError",
      status: 403,
      message: "options.network: host networking is not allowed by this server's policy",
    });
  });
});

describe("API keys and login", () => {
  test("create, list, use, revoke: a revoked key gets 403", async () => {
    const created = await srv.request("/auth/keys", {
      method: "POST",
      body: JSON.stringify({ name: "ci", tenantId: "team-a" }),
    });
    assert.equal(created.status, 201);
    const key = (await created.json()) as Record<string, string | null>;
    assert.match(String(key.key), /^isol8_/);
    assert.equal(key.keyPrefix, String(key.key).slice(0, 14));
    assert.equal(key.tenantId, "team-a");
    assert.equal(key.expiresAt, null);

    assert.equal((await srv.request("/sessions", { key: String(key.key) })).status, 200);
    const listed = (await (await srv.request("/auth/keys?tenantId=team-a")).json()) as {
      keys: Record<string, unknown>[];
    };
    const entry = listed.keys.find((k) => k.id === key.id);
    assert.ok(entry);
    assert.equal(entry.revoked, false);
    assert.ok(entry.lastUsedAt, "lastUsedAt is set once the key was used");
    assert.equal("key" in entry || "keyHash" in entry, false, "a listing never holds the secret");

    const revoked = await json(await srv.request(`/auth/keys/${key.id}`, { method: "DELETE" }));
    assert.deepEqual(revoked, { status: 200, body: { ok: true, id: key.id } });
    const after = await json(await srv.request("/sessions", { key: String(key.key) }));
    assert.deepEqual(after, { status: 403, body: { error: "API key revoked" } });
    assert.equal((await srv.request("/auth/keys/no-such-id", { method: "DELETE" })).status, 404);
  });

  test("an expired key gets 403", async () => {
    const { key } = await srv.createKey("team-e", 1);
    await new Promise((r) => setTimeout(r, 20));
    const answer = await json(await srv.request("/sessions", { key }));
    assert.deepEqual(answer, { status: 403, body: { error: "API key expired" } });
  });

  test("/auth/login issues a short-lived token that works like a key", async () => {
    const login = await json(
      await srv.request("/auth/login", {
        method: "POST",
        body: JSON.stringify({ tenantId: "team-l", ttlMs: 60_000 }),
      }),
    );
    assert.equal(login.status, 200);
    const expires = Date.parse(String(login.body.expiresAt));
    assert.ok(expires > Date.now() && expires <= Date.now() + 60_000);
    assert.equal((await srv.request("/sessions", { key: String(login.body.token) })).status, 200);
    const defaultTtl = await json(await srv.request("/auth/login", { method: "POST", body: "{}" }));
    assert.ok(Date.parse(String(defaultTtl.body.expiresAt)) <= Date.now() + 12 * 3600_000);
    const tooLong = await json(
      await srv.request("/auth/login", { method: "POST", body: JSON.stringify({ ttlMs: 1e15 }) }),
    );
    assert.equal(tooLong.status, 400);
  });

  test("a non-master key cannot call /cleanup or /auth/*", async () => {
    const { key } = await srv.createKey("team-n");
    for (const [method, path] of [
      ["POST", "/cleanup"],
      ["POST", "/auth/keys"],
      ["GET", "/auth/keys"],
      ["DELETE", "/auth/keys/x"],
      ["POST", "/auth/login"],
    ] as const) {
      const answer = await json(
        await srv.request(path, { method, key, body: method === "GET" ? undefined : "{}" }),
      );
      assert.deepEqual(
        answer,
        { status: 403, body: { error: "this route needs the master key" } },
        path,
      );
    }
  });

  test("keys are stored hashed: the database file holds the key's hash, never the key", async () => {
    const { id, key } = await srv.createKey("team-h");
    const digest = createHash("sha256").update(key).digest();
    const dbPath = srv.server.context.config.dbPath;
    // The row as SQLite reads it from the file, through a connection of the
    // test's own: a database that cannot be opened fails the test.
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare("SELECT * FROM api_keys WHERE id = ?").get(id) as
        | Record<string, unknown>
        | undefined;
      assert.ok(row, "the new key's row is in the database file");
      assert.deepEqual(row.key_hash, digest);
      for (const [column, value] of Object.entries(row))
        assert.ok(!String(value).includes(key.slice(14)), `column ${column} holds the key`);
    } finally {
      db.close();
    }
    // The bytes on disk, the write-ahead log included (new rows sit there
    // until a checkpoint): the hash is there, the key's secret part is not.
    const raw = Buffer.concat(
      [dbPath, `${dbPath}-wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p)),
    );
    assert.ok(raw.length > 0);
    assert.ok(raw.includes(digest), "the key's hash is on disk");
    assert.ok(!raw.includes(Buffer.from(key.slice(14))), "the key is on disk");
  });
});

describe("documents", () => {
  test("GET /openapi.json describes every route", async () => {
    const doc = (await (await srv.request("/openapi.json")).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    for (const route of [
      "GET /health",
      "POST /execute",
      "POST /execute/stream",
      "GET /execute/ws",
      "POST /file",
      "GET /file",
      "GET /sessions",
      "DELETE /session/{id}",
      "POST /cleanup",
      "POST /auth/keys",
      "GET /auth/keys",
      "PATCH /auth/keys/{id}",
      "DELETE /auth/keys/{id}",
      "POST /auth/login",
      "GET /metrics",
      "GET /openapi.json",
    ])
      assert.ok(routes.includes(route), route);
    const execute = doc.paths["/execute"]?.post as {
      requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> };
    };
    assert.ok(execute.requestBody.content["application/json"]?.schema.properties.request);
  });

  test("GET /metrics is Prometheus text with the server's series", async () => {
    const response = await srv.request("/metrics");
    assert.match(response.headers.get("content-type") ?? "", /text\/plain/);
    const text = await response.text();
    for (const name of [
      "isol8_executions_total",
      "isol8_execution_duration_seconds",
      "isol8_queue_depth",
      "isol8_sessions",
      "isol8_http_requests_total",
    ])
      assert.match(text, new RegExp(`# TYPE ${name} `), name);
  });

  test("GET /execute/ws without an upgrade is 426", async () => {
    const answer = await json(await srv.request("/execute/ws"));
    assert.equal(answer.status, 426);
  });
});
