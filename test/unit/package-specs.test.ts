import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidOptionError, resolveOptions } from "../../src/engine/options.js";
import { InvalidRequestError, validateRequest } from "../../src/engine/request.js";
import { ImageInputError } from "../../src/images/errors.js";
import { checkRegistryUrl, normalizePackages } from "../../src/images/packages.js";
import {
  denoSpecifier,
  MAX_PACKAGE_SPEC_LENGTH,
  packageSpecProblem,
  registryUrlProblem,
} from "../../src/runtimes/package-specs.js";
import { RUNTIMES, type Runtime } from "../../src/runtimes/runtime.js";
import type { ExecutionRequest } from "../../src/types.js";

/** Runtimes with a run-time installer (bash has none). */
const INSTALLING = RUNTIMES.filter((r) => r !== "bash");

/** The run-time path: a request installing `spec`. */
function request(runtime: Runtime, spec: unknown): () => void {
  return () =>
    validateRequest({
      runtime,
      code: "1",
      installPackages: [spec],
    } as unknown as ExecutionRequest);
}

function refusedAtRunTime(runtime: Runtime, spec: unknown, problem: RegExp): void {
  assert.throws(
    request(runtime, spec),
    (e: unknown) =>
      e instanceof InvalidRequestError &&
      e.message.startsWith(`installPackages[0]: ${JSON.stringify(spec)} is not a package name (`) &&
      problem.test(e.message),
    `${runtime} ${JSON.stringify(spec)} at run time`,
  );
}

function refusedInImage(runtime: Runtime, spec: string, problem: RegExp): void {
  assert.throws(
    () => normalizePackages(runtime, [spec]),
    (e: unknown) =>
      e instanceof ImageInputError &&
      e.message.startsWith(`${runtime} package ${JSON.stringify(spec.trim())}: `) &&
      problem.test(e.message),
    `${runtime} ${JSON.stringify(spec)} in an image`,
  );
}

describe("packageSpecProblem", () => {
  test("pip specs with ranges, extras and spaces pass", () => {
    for (const spec of [
      "numpy>=1.0,<2",
      "requests[socks]",
      "numpy >= 1.0",
      "rich[jupyter,extra]==13.*",
      'requests; python_version >= "3.8"',
      "pkg @ https://example.com/pkg-1.0-py3-none-any.whl",
    ]) {
      assert.equal(packageSpecProblem("python", spec), undefined, spec);
    }
  });

  test("npm specs, deno specifiers and Debian names pass", () => {
    for (const runtime of ["node", "bun"] as const) {
      for (const spec of ["left-pad", "left-pad@1.3.0", "@scope/name@^2", "github:user/repo"])
        assert.equal(packageSpecProblem(runtime, spec), undefined, spec);
    }
    for (const spec of ["chalk", "npm:chalk@5", "jsr:@std/path", "NPM:chalk"])
      assert.equal(packageSpecProblem("deno", spec), undefined, spec);
    for (const spec of ["jq", "jq=1.6-2.1", "jq/bookworm-backports", "libc6-dev"])
      assert.equal(packageSpecProblem("bash", spec), undefined, spec);
  });

  test("each refusal names its problem, for every runtime", () => {
    for (const runtime of RUNTIMES) {
      assert.equal(packageSpecProblem(runtime, ""), "is an empty package name");
      assert.match(packageSpecProblem(runtime, "-r") ?? "", /^starts with '-'.*installer option/);
      assert.match(packageSpecProblem(runtime, "--index-url=http://evil/") ?? "", /^starts with/);
      assert.equal(packageSpecProblem(runtime, "a\nb"), "contains control characters");
      assert.equal(packageSpecProblem(runtime, "a\0"), "contains control characters");
      assert.equal(packageSpecProblem(runtime, "a\u007f"), "contains control characters");
      assert.equal(
        packageSpecProblem(runtime, "a".repeat(MAX_PACKAGE_SPEC_LENGTH + 1)),
        "is longer than 1000 characters",
      );
      assert.notEqual(packageSpecProblem(runtime, " numpy"), undefined);
    }
    assert.equal(packageSpecProblem("python", "a".repeat(MAX_PACKAGE_SPEC_LENGTH)), undefined);
  });

  test("white space: only pip specs may hold it, never at the ends or before a '-'", () => {
    for (const runtime of ["node", "bun", "deno", "bash"] as const)
      assert.equal(packageSpecProblem(runtime, "left pad"), "contains white space", runtime);
    assert.equal(packageSpecProblem("python", " numpy"), "starts or ends with white space");
    assert.equal(packageSpecProblem("python", "numpy "), "starts or ends with white space");
    assert.match(
      packageSpecProblem("python", "numpy --index-url=http://evil/") ?? "",
      /word starting with '-'.*installer option/,
    );
    assert.match(packageSpecProblem("python", "numpy\t-r x") ?? "", /control characters/);
  });

  test("bash: Debian package names only", () => {
    for (const spec of ["Not_A_Debian_Name", "jq;rm", "jq=", "./jq.deb"])
      assert.match(packageSpecProblem("bash", spec) ?? "", /is not a Debian package name/, spec);
  });

  test("deno: npm: and jsr: specifiers or bare npm names", () => {
    assert.match(
      packageSpecProblem("deno", "https://deno.land/x/a.ts") ?? "",
      /uses the scheme https:/,
    );
    assert.match(packageSpecProblem("deno", "file:///etc/passwd") ?? "", /uses the scheme file:/);
    assert.equal(packageSpecProblem("deno", "npm:"), "names no npm: package");
    assert.equal(packageSpecProblem("deno", "npm:-x"), "names no npm: package");
    assert.equal(packageSpecProblem("deno", "jsr:--x"), "names no jsr: package");
    assert.equal(denoSpecifier("chalk"), "npm:chalk");
    assert.equal(denoSpecifier("NPM:chalk"), "npm:chalk");
    assert.equal(denoSpecifier("jsr:@std/path"), "jsr:@std/path");
  });
});

describe("registryUrlProblem", () => {
  test("http and https URLs pass", () => {
    for (const url of [
      "https://pypi.example.com/simple/",
      "http://127.0.0.1:8080/",
      "https://user:token@npm.example.com/",
      "http://[::1]:4873/",
    ])
      assert.equal(registryUrlProblem(url), undefined, url);
  });

  test("anything else names its problem", () => {
    assert.equal(registryUrlProblem("not a url"), "is not a URL");
    assert.equal(registryUrlProblem("pypi.example.com"), "is not a URL");
    assert.equal(registryUrlProblem(""), "is not a URL");
    assert.equal(registryUrlProblem("ftp://example.com/"), "is not an http or https URL");
    assert.equal(registryUrlProblem("file:///etc/"), "is not an http or https URL");
    assert.equal(
      registryUrlProblem("http://ex\tample.com/"),
      "contains white space or control characters",
    );
    assert.equal(
      registryUrlProblem(" https://example.com/"),
      "contains white space or control characters",
    );
  });
});

describe("both paths use the rule", () => {
  test("pip specs with ranges and extras pass at run time and in images", () => {
    for (const spec of ["numpy>=1.0,<2", "requests[socks]", "numpy >= 1.0"]) {
      request("python", spec)();
      assert.deepEqual(normalizePackages("python", [spec]), [spec]);
    }
    for (const runtime of INSTALLING) request(runtime, "left-pad")();
    request("deno", "jsr:@std/path")();
    request("deno", "npm:chalk@5")();
  });

  test("refusals at run time name the field, the spec and the problem", () => {
    for (const runtime of INSTALLING) {
      refusedAtRunTime(runtime, "--index-url=http://evil/", /starts with '-'/);
      refusedAtRunTime(runtime, "", /is an empty package name/);
      refusedAtRunTime(runtime, "a\u0007", /control characters/);
      refusedAtRunTime(runtime, "a".repeat(1001), /longer than 1000 characters/);
    }
    for (const runtime of ["node", "bun", "deno"] as const)
      refusedAtRunTime(runtime, "left pad", /contains white space/);
    refusedAtRunTime("python", "numpy -r x", /word starting with '-'/);
    refusedAtRunTime("python", 5, /must be a string/);
    refusedAtRunTime("deno", "https://deno.land/x/a.ts", /uses the scheme https:/);
  });

  test("only the request refuses bash installs", () => {
    assert.throws(
      request("bash", "jq"),
      (e: unknown) =>
        e instanceof InvalidRequestError &&
        /^installPackages: bash has no package installer at run time/.test(e.message),
    );
    assert.deepEqual(normalizePackages("bash", ["jq"]), ["jq"]);
  });

  test("refusals in images name the runtime, the spec and the problem", () => {
    for (const runtime of RUNTIMES) {
      refusedInImage(runtime, "--index-url=http://evil/", /starts with '-'/);
      refusedInImage(runtime, "", /is an empty package name/);
      refusedInImage(runtime, " ", /is an empty package name/);
      refusedInImage(runtime, "a\u0007b", /control characters/);
      refusedInImage(runtime, "a".repeat(1001), /longer than 1000 characters/);
    }
    for (const runtime of ["node", "bun", "deno", "bash"] as const)
      refusedInImage(runtime, "left pad", /contains white space/);
    refusedInImage("python", "numpy -r x", /word starting with '-'/);
    refusedInImage("bash", "Not_A_Debian_Name", /is not a Debian package name/);
    refusedInImage("deno", "npm:-x", /names no npm: package/);
  });

  test("images trim specs; deno bakes npm: packages only, bare names as npm:NAME", () => {
    assert.deepEqual(normalizePackages("python", [" requests >= 2 "]), ["requests >= 2"]);
    assert.deepEqual(normalizePackages("deno", ["chalk", "npm:is-odd@3", "NPM:x"]), [
      "npm:chalk",
      "npm:is-odd@3",
      "npm:x",
    ]);
    refusedInImage("deno", "jsr:@std/path", /only npm: packages can be baked for deno/);
    refusedInImage("deno", "https://deno.land/x/a.ts", /only npm: packages can be baked/);
  });

  test("registry URLs: engine options and image indexes", () => {
    const option = (pip: string, message: RegExp) =>
      assert.throws(
        () => resolveOptions({ registries: { pip } }),
        (e: unknown) => e instanceof InvalidOptionError && message.test(e.message),
      );
    option("ftp://x/", /^registries\.pip: "ftp:\/\/x\/" is not an http or https URL$/);
    option("nope", /^registries\.pip: "nope" is not a URL$/);
    assert.throws(
      () => resolveOptions({ registries: { npm: "http://x/\n" } }),
      (e: unknown) =>
        e instanceof InvalidOptionError &&
        e.message === 'registries.npm: "http://x/\\n" contains white space or control characters',
    );
    assert.deepEqual(resolveOptions({ registries: { pip: "http://x/simple/" } }).registries, {
      pip: "http://x/simple/",
    });

    const index = (url: string, message: RegExp) =>
      assert.throws(
        () => checkRegistryUrl("npm", url),
        (e: unknown) => e instanceof ImageInputError && message.test(e.message),
      );
    index("ftp://x/", /^npm index "ftp:\/\/x\/" is not an http or https URL$/);
    index("nope", /^npm index "nope" is not a URL$/);
    index(
      "http://x/a b",
      /^npm index "http:\/\/x\/a b" contains white space or control characters$/,
    );
    assert.equal(checkRegistryUrl("pip", "https://x/simple/"), "https://x/simple/");
  });
});
