// Secrets over the HTTP API, against real Docker: encoded forms masked in
// POST /execute, the stream and the audit log; files holding a secret
// withheld from outputPaths and GET /file.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { ExecutionResult } from "../../src/types.js";
import { MASTER, run, startServer } from "../support/server.js";
import { readSse } from "../support/sse.js";

const SECRET = "srv-S3cret/Val+ue";
const OPTIONS = { secrets: { API_KEY: SECRET } };
const forms = () => [
  SECRET,
  encodeURIComponent(SECRET),
  Buffer.from(`x${SECRET}`).toString("base64").slice(2, -4),
  Buffer.from(SECRET).toString("hex"),
];

/** Python printing the secret URL-encoded, base64 (one byte in), hex, and writing it to a file. */
const PROGRAM = [
  "import base64, os, urllib.parse",
  "s = os.environ['API_KEY']",
  "print(urllib.parse.quote(s, safe=''))",
  "print(base64.b64encode(b'x' + s.encode()).decode())",
  "print(s.encode().hex())",
  "open('/sandbox/key.bin', 'wb').write(b'\\x00' + s.encode())",
  "open('/sandbox/ok.txt', 'w').write('nothing here')",
].join("\n");

describe("secrets over HTTP", () => {
  test("POST /execute and the SSE stream mask every form; a file holding it is withheld, named", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "isol8-audit-")), "audit.jsonl");
    const srv = await startServer({ auditLog: path });
    const response = await srv.call("/execute", {
      method: "POST",
      body: run(PROGRAM, {
        options: OPTIONS,
        outputPaths: ["/sandbox/key.bin", "/sandbox/ok.txt"],
        metadata: { note: `called with ${SECRET}` },
      }),
    });
    assert.equal(response.status, 200);
    const result = (await response.json()) as ExecutionResult;
    assert.equal(result.exitCode, 0, result.stderr);
    // Base64 digits that also carry the byte before the secret stay.
    assert.equal(result.stdout, "***\neH***\n***\n");
    assert.deepEqual(Object.keys(result.files ?? {}), ["/sandbox/ok.txt"]);
    assert.deepEqual(result.withheldFiles, ["/sandbox/key.bin"]);

    const stream = await srv.call("/execute/stream", {
      method: "POST",
      body: run(PROGRAM, { options: OPTIONS, outputPaths: ["/sandbox/key.bin"] }),
    });
    const { events } = await readSse(stream);
    const text = JSON.stringify(events);
    for (const form of forms()) assert.ok(!text.includes(form), `stream shows ${form}`);
    assert.ok(
      events.some((e) => e.type === "error" && e.data.includes("/sandbox/key.bin")),
      text,
    );

    await srv.server.close();
    const audit = readFileSync(path, "utf8");
    assert.ok(!audit.includes(SECRET), audit);
    assert.match(audit, /called with \*\*\*/);
  });

  test("GET /file of a session's file holding the secret is a 403 naming the path", async () => {
    const srv = await startServer();
    const execute = await srv.call("/execute", {
      method: "POST",
      body: run(PROGRAM, { options: OPTIONS, sessionId: "with-secret" }),
    });
    assert.equal(execute.status, 200);
    const refused = await srv.call("/file?sessionId=with-secret&path=/sandbox/key.bin", {
      key: MASTER,
    });
    assert.equal(refused.status, 403);
    const { error } = (await refused.json()) as { error: string };
    assert.match(error, /\/sandbox\/key\.bin/);
    assert.ok(!error.includes(SECRET));
    const allowed = await srv.call("/file?sessionId=with-secret&path=/sandbox/ok.txt");
    assert.equal(allowed.status, 200);
  });
});
