import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type AuditEntry, AuditLog } from "../../src/server/audit.js";

function entry(n: number): AuditEntry {
  return {
    time: new Date(0).toISOString(),
    executionId: `run-${n}`,
    tenantId: "t",
    keyId: null,
    sessionId: null,
    runtime: "python",
    codeSha256: "0".repeat(64),
    exitCode: 0,
    outcome: "ok",
    durationMs: 1,
    resourceUsage: null,
    metadata: { n: String(n), pad: "x".repeat(900) },
  };
}

const runsIn = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((line) => Number((JSON.parse(line) as AuditEntry).metadata?.n));

test("the audit log rotates at maxBytes and keeps `keep` older files; no line is split or lost from the kept ones", async () => {
  const dir = mkdtempSync(join(tmpdir(), "isol8-audit-rotation-"));
  const path = join(dir, "audit.jsonl");
  const maxBytes = 64 * 1024;
  const log = new AuditLog(path, { maxBytes, keep: 2 });
  const total = 500; // about 500 KB: several times what the three files may hold
  for (let n = 0; n < total; n++) log.write(entry(n));
  await log.close();

  const files = [path, `${path}.1`, `${path}.2`];
  assert.ok(!existsSync(`${path}.3`), "nothing beyond keep");
  for (const file of files) {
    assert.ok(statSync(file).size <= maxBytes, `${file}: ${statSync(file).size} bytes`);
    assert.equal(statSync(file).mode & 0o777, 0o600, file);
  }
  // Oldest to newest, consecutive, ending with the last entry written.
  const kept = [...files].reverse().flatMap(runsIn);
  assert.equal(kept.at(-1), total - 1);
  assert.deepEqual(
    kept,
    kept.map((_, i) => (kept[0] ?? 0) + i),
  );
});

test("an existing file's size counts: a log reopened near its limit rotates at once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "isol8-audit-reopen-"));
  const path = join(dir, "audit.jsonl");
  writeFileSync(path, `${"{}\n".repeat((64 * 1024) / 3)}`, { mode: 0o600 });
  const log = new AuditLog(path, { maxBytes: 64 * 1024, keep: 1 });
  log.write(entry(1));
  await log.close();
  assert.deepEqual(runsIn(path), [1]);
  assert.ok(existsSync(`${path}.1`));
});
