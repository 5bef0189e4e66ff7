// The /sandbox path rules of file operations and of a request's files and
// output paths: absolute, inside /sandbox once normalized, and never
// /sandbox itself (a file, not the directory).
import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidRequestError, validateRequest } from "../../src/engine/request.js";
import { SandboxFileError, sandboxPath } from "../../src/engine/session-files.js";
import type { ExecutionRequest } from "../../src/types.js";

function refusedWith(run: () => unknown, message: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InvalidRequestError, String(error));
    assert.equal(error.message, message);
    return true;
  });
}

test("a file operation's path: inside /sandbox, normalized", () => {
  assert.equal(sandboxPath("/sandbox/a"), "/sandbox/a");
  assert.equal(sandboxPath("/sandbox/a/./b/../c"), "/sandbox/a/c");
  assert.equal(sandboxPath("//sandbox//x"), "/sandbox/x");
  assert.equal(sandboxPath("/sandbox/a/"), "/sandbox/a/");
});

test("a file operation's path outside /sandbox, relative, or /sandbox itself is refused", () => {
  for (const path of ["sandbox/a", "a/sandbox/", "", " /sandbox/a"])
    refusedWith(
      () => sandboxPath(path),
      `path: "${path}" must be an absolute path inside /sandbox`,
    );
  refusedWith(
    () => sandboxPath(42 as unknown as string),
    'path: "42" must be an absolute path inside /sandbox',
  );
  for (const path of [
    "/sandbox",
    "/sandbox/",
    "/sandbox/.",
    "/sandbox/a/../..",
    "/sandboxes/a",
    "/etc/passwd",
    "/",
  ])
    refusedWith(() => sandboxPath(path), `path: "${path}" is outside /sandbox`);
});

test("a refused file operation names the path and the reason", () => {
  const error = new SandboxFileError("/sandbox/a", "no such file");
  assert.equal(error.message, "/sandbox/a: no such file");
  assert.equal(error.name, "SandboxFileError");
});

test("a request's files and output paths: inside /sandbox, never /sandbox itself", () => {
  const base: ExecutionRequest = { runtime: "python", code: "1" };
  for (const path of ["/sandbox/a", "/sandbox/a/../b", "//sandbox/x"]) {
    validateRequest({ ...base, files: { [path]: "x" } });
    validateRequest({ ...base, outputPaths: [path] });
  }
  for (const path of ["sandbox/a", "a/sandbox/b"]) {
    refusedWith(
      () => validateRequest({ ...base, files: { [path]: "x" } }),
      `files: "${path}" must be an absolute path inside /sandbox`,
    );
    refusedWith(
      () => validateRequest({ ...base, outputPaths: [path] }),
      `outputPaths: "${path}" must be an absolute path inside /sandbox`,
    );
  }
  refusedWith(
    () => validateRequest({ ...base, outputPaths: [7 as unknown as string] }),
    'outputPaths: "7" must be an absolute path inside /sandbox',
  );
  for (const path of [
    "/sandbox",
    "/sandbox/",
    "/sandbox/.",
    "/sandbox/a/../..",
    "/sandboxes/a",
    "/tmp/a",
  ]) {
    refusedWith(
      () => validateRequest({ ...base, filesBase64: { [path]: "aGk=" } }),
      `filesBase64: "${path}" is outside /sandbox`,
    );
    refusedWith(
      () => validateRequest({ ...base, outputPaths: [path] }),
      `outputPaths: "${path}" is outside /sandbox`,
    );
  }
});
