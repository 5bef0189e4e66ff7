// The strict profile's narrower kernel surface, tried from inside real
// sandboxes: socket families outside unix/inet/inet6/routing netlink answer
// EAFNOSUPPORT (EPROTONOSUPPORT for other netlink protocols), where the
// kernel would have made them or answered otherwise; and system calls made
// through the 32-bit x86 ABI are refused unless `security.compatAbis` asks
// for them. Each probe's control shows the kernel answers differently
// without the rule, so each assertion can fail.
import assert from "node:assert/strict";
import { arch } from "node:os";
import { before, describe, test } from "node:test";
import { PYTHON_DATA_IMAGE } from "../../src/images/index.js";
import type { DockerIsol8Options } from "../../src/types.js";
import { ensureDataImage } from "../fixtures/data-image.js";
import { engine } from "../support/engine.js";

/** Python that prints, per probe, `name errno` (0 when the socket was made). */
const SOCKET_PROBES = `
import errno, socket
def probe(name, make):
    try:
        make().close()
        print(name, 0)
    except OSError as e:
        print(name, e.errno)
probe("unix", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
probe("inet", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
probe("inet6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
probe("netlink-route", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
probe("netlink-audit", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9))
probe("netlink-generic", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16))
probe("packet", lambda: socket.socket(17, socket.SOCK_DGRAM, 0))
probe("alg", lambda: socket.socket(38, socket.SOCK_SEQPACKET, 0))
probe("vsock", lambda: socket.socket(40, socket.SOCK_STREAM, 0))
probe("pair-unix", lambda: socket.socketpair(socket.AF_UNIX)[0])
probe("pair-inet", lambda: socket.socketpair(socket.AF_INET)[0])
# AI_ADDRCONFIG has glibc ask routing netlink which address families are configured.
print("getaddrinfo", len(socket.getaddrinfo("127.0.0.1", 80, flags=socket.AI_ADDRCONFIG)) > 0)
print("interfaces", len(socket.if_nameindex()) > 0)
`;

async function socketProbes(options: DockerIsol8Options): Promise<Record<string, string>> {
  const result = await engine(options).execute({ runtime: "python", code: SOCKET_PROBES });
  assert.equal(result.exitCode, 0, result.stderr);
  return Object.fromEntries(
    result.stdout
      .trim()
      .split("\n")
      .map((line) => line.split(" ") as [string, string]),
  );
}

/**
 * Python that makes getpid through `int 0x80` (ia32 system call 20) from a
 * page of machine code, in a child process, and prints what came back (the
 * pid when the call reached the kernel) and its pid as Python knows it, or
 * the child's exit status when it did not return (-31: killed by SIGSYS).
 */
const IA32_GETPID = `
import os, subprocess, sys
child = r"""
import ctypes, mmap, os
code = bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3])  # mov eax, 20; int 0x80; ret
page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(code)
address = ctypes.addressof(ctypes.c_char.from_buffer(page))
print(ctypes.CFUNCTYPE(ctypes.c_int32)(address)(), os.getpid())
"""
run = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
print(run.stdout if run.returncode == 0 else f"status{run.returncode}")
`;

describe("kernel surface under the strict profile", () => {
  test("only unix, inet, inet6 and routing netlink sockets can be made", async () => {
    const strict = await socketProbes({});
    assert.deepEqual(strict, {
      unix: "0",
      inet: "0",
      inet6: "0",
      "netlink-route": "0",
      "netlink-audit": "93",
      "netlink-generic": "93",
      packet: "97",
      alg: "97",
      vsock: "97",
      "pair-unix": "0",
      "pair-inet": "97",
      // glibc and Python still find names and interfaces through routing netlink.
      getaddrinfo: "True",
      interfaces: "True",
    });
  });

  test("control: without a filter the kernel answers those probes otherwise", async () => {
    const open = await socketProbes({ security: { seccomp: "unconfined" } });
    // The kernel makes audit and generic netlink sockets for anyone...
    assert.equal(open["netlink-audit"], "0");
    assert.equal(open["netlink-generic"], "0");
    // ...refuses a packet socket for want of CAP_NET_RAW (EPERM), and an
    // inet pair as unsupported (EOPNOTSUPP): not the strict profile's answers.
    assert.equal(open.packet, "1");
    assert.equal(open["pair-inet"], "95");
  });

  test("a system call through the 32-bit x86 ABI is refused unless compatAbis asks for it", {
    skip: arch() !== "x64" ? "int 0x80 exists only on x86-64 hosts" : false,
  }, async () => {
    const refused = await engine({}).execute({ runtime: "python", code: IA32_GETPID });
    assert.equal(refused.exitCode, 0, refused.stderr);
    // A call of an architecture the filter does not list never reaches a
    // rule: the kernel kills the caller with SIGSYS.
    assert.equal(refused.stdout.trim(), "status-31", `int 0x80 getpid: ${refused.stdout}`);

    const allowed = await engine({ security: { compatAbis: true } }).execute({
      runtime: "python",
      code: IA32_GETPID,
    });
    assert.equal(allowed.exitCode, 0, allowed.stderr);
    const [pid32, pid] = allowed.stdout.trim().split(" ");
    assert.equal(pid32, pid, "with compatAbis the ia32 call reaches the kernel");
  });

  test("compatAbis is refused with a profile that is not the strict one", () => {
    assert.throws(
      () => engine({ security: { seccomp: "unconfined", compatAbis: true } }),
      /security\.compatAbis: only the strict profile has it \(security\.seccomp is "unconfined"\)/,
    );
  });
});

describe("kernel surface under the strict profile, with gVisor", () => {
  test("the families programs need work; the others are refused (EPERM: runsc ignores a rule's errno)", async () => {
    const probes = await socketProbes({ ociRuntime: "runsc" });
    for (const name of ["unix", "inet", "inet6", "netlink-route", "pair-unix"])
      assert.equal(probes[name], "0", name);
    for (const name of ["netlink-audit", "packet", "alg", "vsock", "pair-inet"])
      assert.notEqual(probes[name], "0", `${name} was made`);
    assert.equal(probes.getaddrinfo, "True");
    assert.equal(probes.interfaces, "True");
  });
});

/** NumPy (with its BLAS threads), pandas and matplotlib, and a subprocess: "ok" when all worked. */
const DATA_SCIENCE = `
import subprocess, sys, threading
import numpy as np, pandas as pd, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
a = np.random.default_rng(1).random((300, 300))
assert np.allclose(a @ np.linalg.inv(a) @ a, a)
frame = pd.DataFrame({"k": [1, 2, 1, 2], "v": [1.0, 2.0, 3.0, 4.0]})
assert frame.groupby("k").v.sum().to_dict() == {1: 4.0, 2: 6.0}
plt.plot([1, 2, 3]); plt.savefig("/tmp/plot.png")
results = []
threads = [threading.Thread(target=lambda: results.append(np.ones(1000).sum())) for _ in range(4)]
[t.start() for t in threads]; [t.join() for t in threads]
assert results == [1000.0] * 4
assert subprocess.run([sys.executable, "-c", "import numpy"]).returncode == 0
print("ok")
`;

describe("the strict profile breaks nothing real", () => {
  before(() => ensureDataImage());
  for (const [tier, options] of [
    ["runc", {}],
    ["gVisor", { ociRuntime: "runsc" }],
  ] as const) {
    test(`${tier}: NumPy, pandas and matplotlib with threads and a subprocess`, async () => {
      const result = await engine({ ...options, image: PYTHON_DATA_IMAGE }).execute({
        runtime: "python",
        code: DATA_SCIENCE,
      });
      assert.equal(result.exitCode, 0, result.stderr);
      assert.equal(result.stdout, "ok\n");
    });
  }
});
