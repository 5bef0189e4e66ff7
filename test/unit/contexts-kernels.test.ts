import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { hasKernel, KERNEL_TIMEOUT_MS, kernelRunSpec } from "../../src/contexts/kernels.js";
import type { RunSpec } from "../../src/engine/protocol.js";
import { runtimeAdapter } from "../../src/runtimes/index.js";
import { CONTEXT_RUNTIMES, RUNTIMES } from "../../src/runtimes/runtime.js";

describe("which runtimes have a kernel", () => {
  test("python and node do; other runtimes, inherited names and non-strings do not", () => {
    assert.deepEqual(CONTEXT_RUNTIMES, ["python", "node"]);
    // The list of context runtimes and the adapters that state a kernel agree.
    assert.deepEqual(
      RUNTIMES.filter((runtime) => runtimeAdapter(runtime).kernel !== undefined),
      [...CONTEXT_RUNTIMES],
    );
    assert.equal(hasKernel("python"), true);
    assert.equal(hasKernel("node"), true);
    for (const other of [
      "bash",
      "bun",
      "deno",
      "toString",
      "__proto__",
      "constructor",
      "",
      1,
      null,
      undefined,
      ["python"],
    ])
      assert.equal(hasKernel(other), false, String(other));
  });
});

describe("a kernel's run", () => {
  const program: RunSpec = {
    argv: ["python3", "/sandbox/main.py"],
    env: { PATH: "/usr/bin", HOME: "/sandbox" },
    workdir: "/sandbox",
    files: [{ path: "/sandbox/main.py", content: " " }],
    timeoutMs: 30_000,
    outputLimit: 1024,
    prestarted: true,
  };

  test("keeps the program's environment, working directory and prestart; runs the kernel with no files, no output limit and a timeout that outlives the context", () => {
    const spec = kernelRunSpec("python", program);
    assert.deepEqual(spec, {
      argv: ["python3", "/usr/local/lib/isol8/context.py"],
      env: program.env,
      workdir: "/sandbox",
      files: [],
      timeoutMs: KERNEL_TIMEOUT_MS,
      outputLimit: Number.MAX_SAFE_INTEGER,
      prestarted: true,
    });
    assert.ok(KERNEL_TIMEOUT_MS >= 2_000_000_000 && KERNEL_TIMEOUT_MS <= 2 ** 31 - 1);
  });

  test("node's kernel starts through bash, which gives it the run's stdio on fds 3-5", () => {
    const { argv } = kernelRunSpec("node", { ...program, prestarted: false });
    assert.equal(argv[0], "bash");
    assert.match(
      argv[2] ?? "",
      /^exec node --expose-internals \/usr\/local\/lib\/isol8\/context\.cjs 3<&0 4>&1 5>&2$/,
    );
  });

  test("a runtime without a kernel is refused", () => {
    assert.throws(() => kernelRunSpec("bash", program), /no kernel for runtime bash/);
  });
});
