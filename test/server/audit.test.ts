// What a client can put into the audit log: request.metadata is bounded in
// size and shape (400 naming the field), and what is accepted is logged as sent.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { resolveServerConfig } from "../../src/server/config.js";
import { METADATA_LIMITS } from "../../src/wire/schemas.js";
import { run, startServer } from "../support/server.js";

const path = join(mkdtempSync(join(tmpdir(), "isol8-audit-meta-")), "audit.jsonl");
const srv = await startServer({ auditLog: path });

async function execute(metadata: unknown) {
  const response = await srv.call("/execute", {
    method: "POST",
    body: run("true", { runtime: "bash", metadata }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("request.metadata", () => {
  test("too many entries, long keys or values, odd keys, nested values: 400 naming the field", async () => {
    const many = Object.fromEntries(
      Array.from({ length: METADATA_LIMITS.entries + 1 }, (_, i) => [`k${i}`, "v"]),
    );
    const wide = Object.fromEntries(
      Array.from({ length: 8 }, (_, i) => [`k${i}`, "x".repeat(METADATA_LIMITS.valueBytes - 10)]),
    );
    const cases: [unknown, RegExp][] = [
      [many, /^request\.metadata: more than 32 entries$/],
      [
        { job: "x".repeat(METADATA_LIMITS.valueBytes + 1) },
        /^request\.metadata\.job: longer than 1024 bytes$/,
      ],
      // Bytes, not characters: 600 two-byte characters are 1200 bytes.
      [{ job: "é".repeat(600) }, /^request\.metadata\.job: longer than 1024 bytes$/],
      [wide, /^request\.metadata: keys and values together are longer than 4096 bytes$/],
      [
        { ["k".repeat(METADATA_LIMITS.keyLength + 1)]: "v" },
        /^request\.metadata\.k+: a key must be/,
      ],
      [{ "bad key\n{": "v" }, /^request\.metadata\.bad key\n\{: a key must be/],
      [{ job: { nested: "x" } }, /^request\.metadata\.job: /],
      [["a", "b"], /^request\.metadata: /],
    ];
    for (const [metadata, message] of cases) {
      const answer = await execute(metadata);
      assert.equal(answer.status, 400, JSON.stringify(metadata).slice(0, 80));
      assert.match(String(answer.body.error), message);
    }
    // The body limit is no longer the only bound: a 1 MB label never reaches the log.
    assert.equal((await execute({ job: "x".repeat(1024 * 1024) })).status, 400);
  });

  test("metadata within the bounds runs and is logged as sent", async () => {
    const largest = Object.fromEntries(
      Array.from({ length: METADATA_LIMITS.entries }, (_, i) => [`key.${i}`, "v".repeat(100)]),
    );
    const answer = await execute(largest);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await srv.server.close();
    const lines = readFileSync(path, "utf8").trim().split("\n");
    const entry = JSON.parse(lines.at(-1) ?? "{}") as { metadata: unknown };
    assert.deepEqual(entry.metadata, largest);
  });
});

describe("auditLogRotation", () => {
  test("defaults to 16 MiB a file and 4 older files; a file under 64 KiB or no older file is refused", () => {
    assert.deepEqual(resolveServerConfig().auditLogRotation, {
      maxBytes: 16 * 1024 * 1024,
      keep: 4,
    });
    assert.throws(
      () => resolveServerConfig({ auditLogRotation: { maxBytes: 1000 } }),
      /^Error: server config: auditLogRotation\.maxBytes: /,
    );
    assert.throws(
      () => resolveServerConfig({ auditLogRotation: { keep: 0 } }),
      /^Error: server config: auditLogRotation\.keep: /,
    );
  });
});
