import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { InvalidOptionError } from "../../src/engine/errors.js";
import { seccompSecurityOpt, strictSeccompProfile } from "../../src/engine/seccomp.js";

interface Arg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}
interface Rule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: Arg[];
}
interface Profile {
  defaultAction: string;
  defaultErrnoRet: number;
  archMap: { architecture: string; subArchitectures: string[] }[];
  syscalls: Rule[];
}

const profile = (target = {}) => strictSeccompProfile(target) as Profile;
const rulesFor = (p: Profile, name: string) => p.syscalls.filter((r) => r.names.includes(name));

/** Whether a rule's argument comparisons hold for `args`, as libseccomp compares them. */
function matches(rule: Rule, args: number[]): boolean {
  return (rule.args ?? []).every(({ index, value, valueTwo, op }) => {
    const arg = args[index] ?? 0;
    switch (op) {
      case "SCMP_CMP_EQ":
        return arg === value;
      case "SCMP_CMP_NE":
        return arg !== value;
      case "SCMP_CMP_GT":
        return arg > value;
      case "SCMP_CMP_MASKED_EQ":
        return (arg & value) === valueTwo;
      default:
        throw new Error(`no comparison ${op} in this test`);
    }
  });
}

/** What a call gets: the one rule that matches it, else the default action. */
function outcome(p: Profile, name: string, args: number[]): string {
  const hits = rulesFor(p, name).filter((rule) => matches(rule, args));
  // Overlapping rules with different actions would leave the answer to libseccomp's ordering.
  assert.ok(hits.length <= 1, `${name}(${args.join(", ")}) matches ${hits.length} rules`);
  const [hit] = hits;
  if (!hit) return `errno ${p.defaultErrnoRet}`;
  return hit.action === "SCMP_ACT_ALLOW" ? "allow" : `errno ${hit.errnoRet}`;
}

test("socket: only unix, inet, inet6 and routing netlink; every other family answers EAFNOSUPPORT", () => {
  const p = profile();
  const allowed = new Map([
    [1, "AF_UNIX"],
    [2, "AF_INET"],
    [10, "AF_INET6"],
  ]);
  for (let family = 0; family <= 64; family++) {
    for (const type of [1, 2, 3, 5]) {
      const got = outcome(p, "socket", [family, type, 0]);
      if (allowed.has(family) || family === 16) assert.equal(got, "allow", `family ${family}`);
      else assert.equal(got, "errno 97", `family ${family}`);
    }
  }
  // AF_ALG (38), AF_VSOCK (40), AF_PACKET (17) by name, for the reader.
  for (const family of [17, 38, 40]) assert.equal(outcome(p, "socket", [family, 5, 0]), "errno 97");
  // Netlink only for NETLINK_ROUTE (0); audit (9), netfilter (12), generic (16) are refused.
  for (const protocol of [9, 12, 15, 16])
    assert.equal(outcome(p, "socket", [16, 3, protocol]), "errno 93", `netlink ${protocol}`);
  // A family with high bits set is not the family the kernel would read; it is refused.
  assert.equal(outcome(p, "socket", [2 + 2 ** 32, 1, 0]), "errno 97");
});

test("socketpair: local pairs only", () => {
  const p = profile();
  assert.equal(outcome(p, "socketpair", [1, 1, 0]), "allow");
  for (const family of [0, 2, 10, 16, 38, 40])
    assert.equal(outcome(p, "socketpair", [family, 1, 0]), "errno 97");
});

test("the multiplexed socketcall and ipc calls are not allowed at all", () => {
  const p = profile({ compatAbis: true });
  assert.deepEqual(rulesFor(p, "socketcall"), []);
  assert.deepEqual(rulesFor(p, "ipc"), []);
});

test("the compatibility ABIs are refused unless compatAbis asks for them", () => {
  assert.deepEqual(profile().archMap, [
    { architecture: "SCMP_ARCH_X86_64", subArchitectures: [] },
    { architecture: "SCMP_ARCH_AARCH64", subArchitectures: [] },
  ]);
  assert.deepEqual(profile({ compatAbis: true }).archMap, [
    {
      architecture: "SCMP_ARCH_X86_64",
      subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    },
    { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] },
  ]);
  // Beside the architectures, only the socket rules change: the refusing
  // ones collide on 32-bit x86's socketcall, so unlisted families get EPERM.
  const compat = profile({ compatAbis: true });
  assert.equal(outcome(compat, "socket", [2, 1, 0]), "allow");
  assert.equal(outcome(compat, "socket", [16, 3, 0]), "allow");
  assert.equal(outcome(compat, "socket", [38, 5, 0]), "errno 1");
  assert.equal(outcome(compat, "socketpair", [2, 1, 0]), "errno 1");
  const rest = (p: Profile) => ({
    ...p,
    archMap: undefined,
    syscalls: p.syscalls.filter((r) => !r.names.some((n) => n.startsWith("socket"))),
  });
  assert.deepEqual(rest(compat), rest(profile()));
});

test("clone may create no namespace", () => {
  const p = profile();
  assert.equal(outcome(p, "clone", [0x3d0f00]), "allow"); // glibc's thread flags
  for (const flag of [0x10000000, 0x20000000, 0x40000000, 0x20000, 0x4000000, 0x8000000, 0x2000000])
    assert.equal(outcome(p, "clone", [0x3d0f00 | flag]), "errno 1", `flag ${flag.toString(16)}`);
});

test("clone3 answers ENOSYS under runc; under runsc, which ignores errnoRet, gVisor's kernel answers it", () => {
  assert.deepEqual(rulesFor(profile(), "clone3"), [
    { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
  ]);
  assert.deepEqual(rulesFor(profile({ forGvisor: true }), "clone3"), [
    { names: ["clone3"], action: "SCMP_ACT_ALLOW" },
  ]);
  // Everything else is the same profile.
  const without = (p: Profile) => ({
    ...p,
    syscalls: p.syscalls.filter((r) => !r.names.includes("clone3")),
  });
  assert.deepEqual(without(profile({ forGvisor: true })), without(profile()));
});

test("reboot, swapon and acct get the default EPERM (the kernel checks their capability first, so no sandbox probe can show the filter refused them)", () => {
  for (const target of [{}, { forGvisor: true }, { compatAbis: true }]) {
    const p = profile(target);
    for (const name of ["reboot", "swapon", "swapoff", "acct"])
      assert.equal(outcome(p, name, []), "errno 1", `${name} with ${JSON.stringify(target)}`);
  }
});

test("every rule is well formed: a known action, an errno exactly where the action is ERRNO", () => {
  for (const target of [{}, { compatAbis: true }, { forGvisor: true }]) {
    const p = profile(target);
    assert.equal(p.defaultAction, "SCMP_ACT_ERRNO");
    assert.equal(p.defaultErrnoRet, 1);
    for (const rule of p.syscalls) {
      assert.ok(rule.names.length > 0, JSON.stringify(rule));
      for (const name of rule.names) assert.match(name, /^[a-z_][a-z0-9_]*$/, JSON.stringify(rule));
      assert.ok(["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO"].includes(rule.action), JSON.stringify(rule));
      assert.equal("errnoRet" in rule, rule.action === "SCMP_ACT_ERRNO", JSON.stringify(rule));
    }
  }
});

test("ordinary calls are allowed without conditions; calls that need a capability are not listed", () => {
  const p = profile();
  for (const name of [
    "accept",
    "read",
    "write",
    "openat",
    "mmap",
    "execve",
    "writev",
    "arch_prctl",
    "modify_ldt",
  ]) {
    assert.equal(outcome(p, name, [0]), "allow", name);
    assert.equal(outcome(p, name, [123456]), "allow", name);
  }
  for (const name of [
    "mount",
    "unshare",
    "setns",
    "ptrace",
    "bpf",
    "io_uring_setup",
    "keyctl",
    "reboot",
  ])
    assert.equal(outcome(p, name, [0]), "errno 1", name);
});

test("personality: only the default and Linux-compatible personalities", () => {
  const p = profile();
  for (const value of [0, 8, 0x20000, 0x20008, 0xffffffff])
    assert.equal(outcome(p, "personality", [value]), "allow", value.toString(16));
  // ADDR_NO_RANDOMIZE (0x0040000) would switch ASLR off.
  for (const value of [0x40000, 0x40008, 1])
    assert.equal(outcome(p, "personality", [value]), "errno 1", value.toString(16));
});

test("the Docker option: strict for the runtime in use, unconfined, or a custom profile file", () => {
  const opt = (choice: Parameters<typeof seccompSecurityOpt>[0]) => seccompSecurityOpt(choice);
  const parsed = (choice: Parameters<typeof seccompSecurityOpt>[0]) => {
    const value = opt(choice);
    assert.ok(value.startsWith("seccomp="), value);
    return JSON.parse(value.slice("seccomp=".length)) as Profile;
  };
  assert.deepEqual(parsed({ mode: "strict" }), profile());
  assert.deepEqual(parsed({ mode: "strict", ociRuntime: "runc" }), profile());
  assert.deepEqual(parsed({ mode: "strict", ociRuntime: "runsc" }), profile({ forGvisor: true }));
  assert.deepEqual(parsed({ mode: "strict", compatAbis: true }), profile({ compatAbis: true }));
  assert.equal(opt({ mode: "unconfined" }), "seccomp=unconfined");
  const dir = mkdtempSync(join(tmpdir(), "isol8-seccomp-"));
  const custom = { defaultAction: "SCMP_ACT_LOG", syscalls: [] };
  const file = join(dir, "custom.json");
  writeFileSync(file, JSON.stringify(custom));
  assert.equal(
    opt({ mode: "custom", customProfilePath: file }),
    `seccomp=${JSON.stringify(custom)}`,
  );
});

test("a custom profile that is missing, unreadable, not JSON or not a profile is refused by name", () => {
  const dir = mkdtempSync(join(tmpdir(), "isol8-seccomp-"));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const refused = (customProfilePath: string | undefined, message: string) =>
    assert.throws(
      () =>
        seccompSecurityOpt({
          mode: "custom",
          ...(customProfilePath === undefined ? {} : { customProfilePath }),
        }),
      (error: unknown) => error instanceof InvalidOptionError && error.message === message,
    );
  refused(undefined, "security.customProfilePath: required when security.seccomp is custom");
  refused("", "security.customProfilePath: required when security.seccomp is custom");
  const missing = join(dir, "missing.json");
  refused(missing, `security.customProfilePath: cannot read ${missing} (ENOENT)`);
  refused(dir, `security.customProfilePath: cannot read ${dir} (EISDIR)`);
  const broken = write("broken.json", '{"secret-content": ');
  refused(broken, `security.customProfilePath: ${broken} is not valid JSON`);
  for (const [name, text] of [
    ["null.json", "null"],
    ["number.json", "1"],
    ["string.json", '"defaultAction"'],
    ["other.json", '{"syscalls": []}'],
  ] as const) {
    const path = write(name, text);
    refused(
      path,
      `security.customProfilePath: ${path} is not a seccomp profile (no defaultAction)`,
    );
  }
});
