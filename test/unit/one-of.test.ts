// The fixed lists of names (runtimes, modes) as checks and as prose.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isOneOf, orList } from "../../src/one-of.js";
import { CONTEXT_RUNTIMES, notARuntime, RUNTIMES } from "../../src/runtimes/runtime.js";
import { NETWORK_MODES } from "../../src/types.js";

describe("one-of lists", () => {
  test("a value is one of a list only when the list holds it exactly", () => {
    assert.equal(isOneOf(NETWORK_MODES, "filtered"), true);
    assert.equal(isOneOf(NETWORK_MODES, "Filtered"), false);
    assert.equal(isOneOf(NETWORK_MODES, undefined), false);
    assert.equal(isOneOf(NETWORK_MODES, 1), false);
  });

  test("prose: commas, then 'or' before the last name", () => {
    assert.equal(orList(RUNTIMES), "python, node, bun, deno or bash");
    assert.equal(orList(CONTEXT_RUNTIMES), "python or node");
    assert.equal(orList(["only"]), "only");
    assert.equal(orList([]), "");
  });

  test("a name that is no runtime is refused with every runtime named", () => {
    assert.equal(
      notARuntime("--runtime", "cobol"),
      '--runtime: "cobol" is not one of python, node, bun, deno, bash',
    );
  });
});
