import assert from "node:assert/strict";
import { test } from "node:test";
import {
  jsonShapeProblem,
  MAX_JSON_DEPTH,
  MAX_JSON_VALUES,
  parseBoundedJson,
} from "../../src/server/bounded-json.js";
import { HttpError } from "../../src/server/errors.js";

test("depth counts arrays and objects alike, up to the limit and not past it", () => {
  const nested = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
  assert.equal(jsonShapeProblem(nested(MAX_JSON_DEPTH)), undefined);
  assert.match(jsonShapeProblem(nested(MAX_JSON_DEPTH + 1)) ?? "", /nested deeper than 64/);
  const objects = (n: number) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;
  assert.equal(jsonShapeProblem(objects(MAX_JSON_DEPTH)), undefined);
  assert.match(jsonShapeProblem(objects(MAX_JSON_DEPTH + 1)) ?? "", /nested deeper/);
});

test("brackets, commas and escaped quotes inside strings are text, not structure", () => {
  const text = JSON.stringify({ code: `${"[{,".repeat(MAX_JSON_VALUES)}\\"]}` });
  assert.equal(jsonShapeProblem(text), undefined);
  assert.deepEqual(parseBoundedJson(text, "body"), JSON.parse(text));
});

test("the value count covers strings, containers and comma-separated scalars", () => {
  const list = (n: number) => `[${Array(n).fill("0").join(",")}]`;
  assert.equal(jsonShapeProblem(list(MAX_JSON_VALUES - 1)), undefined);
  assert.match(jsonShapeProblem(list(MAX_JSON_VALUES + 1)) ?? "", /more than 100000 values/);
  assert.match(jsonShapeProblem(`[${'"x",'.repeat(MAX_JSON_VALUES)}"x"]`) ?? "", /values/);
});

test("a refused or invalid text is a 400 naming the field", () => {
  for (const [text, message] of [
    ["[".repeat(100), /^body: JSON nested deeper than 64 levels$/],
    ["{not json", /^body: not valid JSON$/],
  ] as const) {
    assert.throws(
      () => parseBoundedJson(text, "body"),
      (error: unknown) =>
        error instanceof HttpError && error.status === 400 && message.test(error.message),
    );
  }
});

test("an escaped quote does not end a string: brackets after it are still text", () => {
  const text = JSON.stringify({ code: `"${"[".repeat(MAX_JSON_DEPTH + 1)}` });
  assert.equal(jsonShapeProblem(text), undefined);
});

test("closing brackets give depth back: siblings each as deep as the limit pass", () => {
  const depth = MAX_JSON_DEPTH - 1;
  const arrays = `${"[".repeat(depth)}${"]".repeat(depth)}`;
  assert.equal(jsonShapeProblem(`[${arrays},${arrays}]`), undefined);
  const objects = `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
  assert.equal(jsonShapeProblem(`[${objects},${objects}]`), undefined);
});

test("exactly the most values passes; numbers and spaces are not values by themselves", () => {
  const list = (n: number) => `[${Array(n).fill("0").join(",")}]`;
  assert.equal(jsonShapeProblem(list(MAX_JSON_VALUES)), undefined);
  assert.equal(jsonShapeProblem(`[${" ".repeat(MAX_JSON_VALUES)}1234567890]`), undefined);
});
