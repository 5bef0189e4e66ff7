import assert from "node:assert/strict";
import { test } from "node:test";
import { atLeast, atMost, printVerdicts, verdict } from "../../bench/stats.js";

const p50 = atMost("p50", "p50", 8, "ms");
const rate = atLeast("rate", "rate", 50, "executions/s");

test("a lower-is-better target is met at or under its limit, missed above it", () => {
  assert.equal(verdict(p50, 7.9), "met");
  assert.equal(verdict(p50, 8), "met");
  assert.equal(verdict(p50, 8.01), "missed");
});

test("a higher-is-better target is met at or over its limit, missed under it", () => {
  assert.equal(verdict(rate, 91.6), "met");
  assert.equal(verdict(rate, 50), "met");
  assert.equal(verdict(rate, 49.9), "missed");
});

test("a missing or NaN measurement misses", () => {
  assert.equal(verdict(p50, undefined), "missed");
  assert.equal(verdict(p50, Number.NaN), "missed");
  assert.equal(verdict(rate, Number.NaN), "missed");
});

test("the verdict table shows each target, its measurement and its verdict", (t) => {
  const lines: string[] = [];
  t.mock.method(console, "log", (line: string) => lines.push(line));
  const ratio = atMost("r", "ratio", 1.2, "x");
  printVerdicts(
    [p50, rate, ratio],
    new Map([
      ["p50", 9.25],
      ["r", 1.204],
      ["not a target", 1],
    ]),
  );
  const table = lines.join("\n");
  assert.match(table, /\| p50 <= 8 ms +\| 9\.25 ms +\| missed +\|/);
  assert.match(table, /\| rate >= 50 executions\/s +\| not measured +\| missed +\|/);
  // A ratio just over its limit shows enough decimals to read as over it.
  assert.match(table, /\| ratio <= 1\.2x +\| 1\.204x +\| missed +\|/);
  assert.doesNotMatch(table, /not a target/);
});
