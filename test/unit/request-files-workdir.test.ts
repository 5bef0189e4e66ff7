import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidRequestError, validateRequest, workdirPath } from "../../src/engine/request.js";
import type { ExecutionRequest } from "../../src/types.js";

const base: ExecutionRequest = { runtime: "python", code: "print(1)" };

function refused(request: Partial<ExecutionRequest>, message: RegExp): void {
  assert.throws(
    () => validateRequest({ ...base, ...request } as ExecutionRequest),
    (error: unknown) => error instanceof InvalidRequestError && message.test(error.message),
  );
}

test("workdir: /sandbox or inside it, normalized", () => {
  assert.equal(workdirPath("/sandbox"), "/sandbox");
  assert.equal(workdirPath("/sandbox/"), "/sandbox");
  assert.equal(workdirPath("/sandbox/a/b/"), "/sandbox/a/b");
  assert.equal(workdirPath("/sandbox/a/../b"), "/sandbox/b");
  assert.equal(workdirPath("//sandbox//x"), "/sandbox/x");
  validateRequest({ ...base, workdir: "/sandbox/project" });
});

test("workdir: outside /sandbox, relative, or not a string is refused naming the field", () => {
  refused({ workdir: "/etc" }, /^workdir: "\/etc" is outside \/sandbox$/);
  refused({ workdir: "/sandbox/../etc" }, /^workdir: "\/sandbox\/\.\.\/etc" is outside/);
  refused({ workdir: "/sandboxed" }, /^workdir: "\/sandboxed" is outside/);
  refused({ workdir: "/" }, /is outside \/sandbox/);
  refused({ workdir: "sandbox/x" }, /^workdir: "sandbox\/x" must be an absolute path/);
  refused({ workdir: "/sandbox/a\0b" }, /^workdir: .* must be an absolute path/);
  refused({ workdir: 5 as unknown as string }, /^workdir: "5" must be an absolute path/);
});

test("filesBase64: base64 of any bytes at paths inside /sandbox, none also in files", () => {
  validateRequest({
    ...base,
    files: { "/sandbox/a.txt": "text" },
    filesBase64: { "/sandbox/b.bin": Buffer.from([0, 255]).toString("base64") },
  });
  refused(
    { filesBase64: { "/sandbox/x": "not base64!" } },
    /^filesBase64\["\/sandbox\/x"\]: not base64$/,
  );
  refused({ filesBase64: { "/etc/x": "" } }, /^filesBase64: "\/etc\/x" is outside \/sandbox$/);
  refused({ filesBase64: { "/sandbox/x": 1 as unknown as string } }, /must be a string/);
  refused(
    { files: { "/sandbox/same": "a" }, filesBase64: { "/sandbox/./same": "YQ==" } },
    /^filesBase64\["\/sandbox\/\.\/same"\]: also given in files$/,
  );
});

test("files and filesBase64 together: at most 4000 files and 64 MiB", () => {
  const many: Record<string, string> = {};
  for (let i = 0; i < 4001; i++) many[`/sandbox/f${i}`] = "";
  refused({ files: many }, /^files: 4001 files is more than the limit of 4000$/);
  const big = Buffer.alloc(40 * 1024 * 1024).toString("base64");
  refused(
    { filesBase64: { "/sandbox/a": big, "/sandbox/b": big } },
    /^files: \d+ bytes is larger than the limit of 67108864 bytes$/,
  );
});
