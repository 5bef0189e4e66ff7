// The frame letters of the supervisor protocol are written twice: in
// sandbox/supervisor.c (its header comment) and its handlers there and in
// sandbox/processes.c and sandbox/files.c, and in src/engine/protocol.ts,
// src/sandbox/process-protocol.ts and src/sandbox/file-protocol.ts. This test keeps the two in step, so a frame the
// engine sends is one the supervisor documents and handles, and back.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { FROM_SUPERVISOR, TO_SUPERVISOR } from "../../src/engine/protocol.js";
import { FROM_FILES, TO_FILES } from "../../src/sandbox/file-protocol.js";
import { FROM_PROCESSES, TO_PROCESSES } from "../../src/sandbox/process-protocol.js";

const source = readFileSync(new URL("../../sandbox/supervisor.c", import.meta.url), "utf8");

/**
 * The letters the header comment lists between `from` and `to`: a frame's
 * entry starts a line at the frames' indentation, and a second one may
 * follow on that line after a wide gap (deeper lines are a frame's fields).
 */
function documented(from: string, to: string): string[] {
  const start = source.indexOf(from);
  const end = source.indexOf(to, start);
  assert.ok(start >= 0 && end > start, `the header comment has "${from}" before "${to}"`);
  const letters: string[] = [];
  for (const line of source.slice(start, end).split("\n")) {
    if (!/^ \* {5}'/.test(line)) continue;
    for (const match of line.matchAll(/(?:^ \* {5}| {3})'(.)' /g)) letters.push(match[1] as string);
  }
  return letters.sort();
}

const processes = readFileSync(new URL("../../sandbox/processes.c", import.meta.url), "utf8");
const files = readFileSync(new URL("../../sandbox/files.c", import.meta.url), "utf8");

/** The C code of the three files without its comments. */
const code = (source + processes + files).replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");

test("every frame the engine sends is documented in the supervisor, and handled by it", () => {
  const engineSends = [
    ...Object.values(TO_SUPERVISOR),
    ...Object.values(TO_PROCESSES),
    ...Object.values(TO_FILES),
  ].sort();
  assert.deepEqual(documented("engine -> supervisor", "supervisor -> engine"), engineSends);
  for (const letter of engineSends)
    assert.match(code, new RegExp(`(case|type ==) '${letter}'`), `no handler for '${letter}'`);
});

test("every frame the supervisor documents sending is one the engine knows, and it sends each", () => {
  const engineReads = [
    ...Object.values(FROM_SUPERVISOR),
    ...Object.values(FROM_PROCESSES),
    ...Object.values(FROM_FILES),
  ].sort();
  assert.deepEqual(documented("supervisor -> engine", " * When its stdin closes"), engineReads);
  for (const letter of engineReads)
    assert.ok(code.includes(`'${letter}'`), `the supervisor never writes '${letter}'`);
});
