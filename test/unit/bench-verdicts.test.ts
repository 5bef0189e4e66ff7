import assert from "node:assert/strict";
import { test } from "node:test";
import { printVerdicts, type Target, verdict } from "../../bench/stats.js";

const atMost: Target = { name: "p50", quantity: "p50", limit: 8, unit: "ms", better: "lower" };
const atLeast: Target = {
  name: "rate",
  quantity: "rate",
  limit: 50,
  unit: "executions/s",
  better: "higher",
};

test("a lower-is-better target is met at or under its limit, missed above it", () => {
  assert.equal(verdict(atMost, 7.9), "met");
  assert.equal(verdict(atMost, 8), "met");
  assert.equal(verdict(atMost, 8.01), "missed");
});

test("a higher-is-better target is met at or over its limit, missed under it", () => {
  assert.equal(verdict(atLeast, 91.6), "met");
  assert.equal(verdict(atLeast, 50), "met");
  assert.equal(verdict(atLeast, 49.9), "missed");
});

test("a missing or NaN measurement misses", () => {
  assert.equal(verdict(atMost, undefined), "missed");
  assert.equal(verdict(atMost, Number.NaN), "missed");
  assert.equal(verdict(atLeast, Number.NaN), "missed");
});

test("the verdict table shows each target, its measurement and its verdict", (t) => {
  const lines: string[] = [];
  t.mock.method(console, "log", (line: string) => lines.push(line));
  const ratio: Target = { name: "r", quantity: "ratio", limit: 1.2, unit: "x", better: "lower" };
  printVerdicts(
    [atMost, atLeast, ratio],
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
