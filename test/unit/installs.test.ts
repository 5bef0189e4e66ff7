import assert from "node:assert/strict";
import { test } from "node:test";
import { installPlan, registryRules } from "../../src/engine/installs.js";

test("deno installs cache npm: and jsr: specifiers; a bare name is npm:NAME, the scheme lower-cased", () => {
  const { argv } = installPlan("deno", ["NPM:chalk@5", "jsr:@std/path", "lodash"]);
  assert.deepEqual(argv.slice(-3), ["npm:chalk@5", "jsr:@std/path", "npm:lodash"]);
});

test("every installer gets the packages after its options, as separate arguments", () => {
  const pip = installPlan("python", ["numpy >= 1.0", "requests[socks]"]).argv;
  assert.deepEqual(pip.slice(pip.indexOf("--")), ["--", "numpy >= 1.0", "requests[socks]"]);
  const npm = installPlan("node", ["left-pad@1.3.0"]).argv;
  assert.deepEqual(npm.slice(npm.indexOf("--")), ["--", "left-pad@1.3.0"]);
});

test("a configured registry replaces the default hosts in the install's allow rules", () => {
  assert.deepEqual(registryRules("python"), ["pypi\\.org", "files\\.pythonhosted\\.org"]);
  assert.deepEqual(registryRules("node", { npm: "http://127.0.0.1:4873/" }), [
    "127\\.0\\.0\\.1:4873",
  ]);
  assert.deepEqual(registryRules("bash"), []);
});
