import assert from "node:assert/strict";
import { test } from "node:test";
import { strictSeccompProfile } from "../../src/engine/seccomp.js";

type Rule = { names: string[]; action: string; errnoRet?: number };
const clone3 = (profile: object) =>
  (profile as { syscalls: Rule[] }).syscalls.filter((rule) => rule.names.includes("clone3"));

test("clone3 answers ENOSYS under runc; under runsc, which ignores errnoRet, gVisor's kernel answers it", () => {
  assert.deepEqual(clone3(strictSeccompProfile()), [
    { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
  ]);
  assert.deepEqual(clone3(strictSeccompProfile(true)), [
    { names: ["clone3"], action: "SCMP_ACT_ALLOW" },
  ]);
  // Everything else is the same profile.
  const without = (profile: object) => ({
    ...profile,
    syscalls: (profile as { syscalls: Rule[] }).syscalls.filter((r) => !r.names.includes("clone3")),
  });
  assert.deepEqual(without(strictSeccompProfile(true)), without(strictSeccompProfile()));
});
