// request.codeUrl: refused by default, fetched under the server's remoteCode
// policy when enabled (a local HTTPS code server on 127.0.0.1 with its own CA).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { createIsol8Server } from "../../src/server/server.js";
import { type CodeServer, makeTestCa, startCodeServer } from "../fixtures/upstreams.js";
import { eventually } from "../support/eventually.js";
import { sha256 } from "../support/hash.js";
import { MASTER, startServer } from "../support/server.js";
import { readSse } from "../support/sse.js";

const PYTHON = "print('fetched by the server')\n";
const NODE = "console.log(typeof require, 'cjs from afar');\n";

const dir = mkdtempSync(join(tmpdir(), "isol8-server-remote-"));
const ca = makeTestCa();
const caFile = join(dir, "ca.pem");
writeFileSync(caFile, ca.caPem);
const code: CodeServer = await startCodeServer(
  {
    "/hello.py": { body: PYTHON },
    "/hello.cjs": { body: NODE },
    "/hang.py": { hang: true },
    "/to-loopback.py": { redirect: "https://127.0.0.2/x.py" },
  },
  ca,
);
after(() => code.close());

const auditLog = join(dir, "audit.log");
const enabled = await startServer({
  auditLog,
  remoteCode: {
    enabled: true,
    allowedHosts: ["127\\.0\\.0\\.1"],
    caCertificates: [caFile],
    fetchTimeoutMs: 1000,
  },
});
const disabled = await startServer();

function execute(
  server: typeof enabled,
  request: Record<string, unknown>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return server
    .call("/execute", {
      method: "POST",
      body: JSON.stringify({ request: { runtime: "python", ...request } }),
    })
    .then(async (response) => ({
      status: response.status,
      body: (await response.json()) as Record<string, unknown>,
    }));
}

describe("request.codeUrl", () => {
  test("refused with 403 when the server's remoteCode is not enabled, before any fetch", async () => {
    const seen = code.requests.length;
    const answer = await execute(disabled, { codeUrl: `${code.origin}/hello.py` });
    assert.equal(answer.status, 403);
    assert.match(String(answer.body.error), /^request\.codeUrl: remote code is not enabled/);
    assert.equal(code.requests.length, seen);
  });

  test("enabled: fetched, checked against codeHash and run; the audit log has the fetched code's digest", async () => {
    const answer = await execute(enabled, {
      codeUrl: `${code.origin}/hello.py`,
      codeHash: sha256(PYTHON),
      metadata: { test: "remote" },
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.stdout, "fetched by the server\n");
    assert.equal(answer.body.exitCode, 0);
    assert.ok(
      await eventually(() => {
        try {
          return readFileSync(auditLog, "utf8").includes(sha256(PYTHON));
        } catch {
          return false;
        }
      }),
    );
  });

  test("the URL's extension is kept when the runtime takes it (.cjs runs as CommonJS), also streamed", async () => {
    const response = await enabled.call("/execute/stream", {
      method: "POST",
      body: JSON.stringify({ request: { runtime: "node", codeUrl: `${code.origin}/hello.cjs` } }),
    });
    assert.equal(response.status, 200);
    const { events } = await readSse(response);
    const stdout = events
      .filter((e) => e.type === "stdout")
      .map((e) => (e as { data: string }).data)
      .join("");
    assert.equal(stdout, "function cjs from afar\n");
  });

  test("refusals are 403, a wrong hash 400, a failed fetch 502, each naming request.codeUrl", async () => {
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [
        { codeUrl: `${code.origin}/hello.py`, codeHash: "0".repeat(64) },
        400,
        /^request\.codeUrl: .*hello\.py has SHA-256 [0-9a-f]{64}, not the 0{64} request\.codeHash expects; refused$/,
      ],
      [
        { codeUrl: `http://127.0.0.1:${code.port}/hello.py` },
        403,
        /^request\.codeUrl: .* is plain http, which needs request\.allowInsecureCodeUrl and "http" in remoteCode\.allowedSchemes; refused$/,
      ],
      [
        { codeUrl: `https://localhost:${code.port}/hello.py` },
        403,
        /is on localhost, which is not in remoteCode\.allowedHosts; refused$/,
      ],
      [
        { codeUrl: `${code.origin}/to-loopback.py` },
        403,
        /redirected to https:\/\/127\.0\.0\.2\/x\.py\) is on the address 127\.0\.0\.2/,
      ],
      [{ codeUrl: `${code.origin}/missing.py` }, 502, /missing\.py answered 404 Not Found$/],
      [{ codeUrl: `${code.origin}/hang.py` }, 502, /hang\.py did not arrive within 1000 ms/],
      [{ code: "print(1)", codeHash: "0".repeat(64) }, 400, /need request\.codeUrl/],
      [
        { codeUrl: `${code.origin}/hello.py`, code: "print(1)" },
        400,
        /give exactly one of code, codeUrl and cmd/,
      ],
    ];
    for (const [request, status, message] of cases) {
      const answer = await execute(enabled, request);
      assert.equal(answer.status, status, JSON.stringify(answer.body));
      assert.match(String(answer.body.error), message);
    }
  });

  test("an unreadable remoteCode CA file stops the server from starting", async () => {
    await assert.rejects(
      createIsol8Server({
        masterKey: MASTER,
        version: "0.0.0-test",
        config: {
          dbPath: join(dir, "never.db"),
          remoteCode: { enabled: true, caCertificates: [join(dir, "missing.pem")] },
        },
        log: () => undefined,
      }),
      /server config: remoteCode\.caCertificates\[0\]: cannot read .*missing\.pem \(ENOENT\)/,
    );
  });
});
