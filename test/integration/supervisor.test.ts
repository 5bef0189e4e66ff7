// The supervisor (PID 1 of every sandbox) must give sandboxed code nothing:
// no way to reach its channel, forge its frames, signal or trace it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import Docker from "dockerode";
import { engine } from "../helpers.js";

describe("supervisor", () => {
  test("output that looks like protocol frames is just output", async () => {
    const isol8 = engine();
    // A fake exit report frame and a fake stdout frame, written raw to stdout and stderr.
    const code = [
      "import sys",
      "fake = b'X' + (22).to_bytes(4, 'big') + b'exit=0\\ntimeout=0\\noom=0\\n'",
      "sys.stdout.buffer.write(fake + b'1' + (3).to_bytes(4, 'big') + b'abc')",
      "sys.stderr.buffer.write(fake)",
      "sys.exit(7)",
    ].join("\n");
    const result = await isol8.execute({ runtime: "python", code });
    assert.equal(result.exitCode, 7);
    assert.ok(result.stdout.includes("exit=0") && result.stdout.endsWith("abc"));
    assert.ok(result.stderr.includes("exit=0"));
  });

  test("sandboxed code cannot signal, stop, trace or read the supervisor", async () => {
    const isol8 = engine({ mode: "persistent" });
    const code = String.raw`
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
out = []
for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):
    try:
        os.kill(1, sig); out.append("signal-sent")
    except PermissionError:
        out.append("signal-refused")
rc = libc.ptrace(16, 1, None, None)  # PTRACE_ATTACH
out.append("trace-refused" if rc != 0 else "traced")
for path in ("/proc/1/fd/0", "/proc/1/fd/1", "/proc/1/environ", "/proc/1/mem"):
    try:
        open(path, "rb").read(1); out.append("read " + path)
    except OSError:
        out.append("refused")
try:
    os.setpriority(os.PRIO_PROCESS, 1, 19); out.append("reniced")
except OSError:
    out.append("renice-refused")
print(" ".join(out))
`;
    const result = await isol8.execute({ runtime: "python", code });
    assert.equal(
      result.stdout.trim(),
      "signal-refused signal-refused signal-refused trace-refused refused refused refused refused renice-refused",
    );
    const next = await isol8.execute({ runtime: "python", code: "print('supervisor still here')" });
    assert.equal(next.stdout, "supervisor still here\n");
  });

  test("the supervisor stays under 8 MB resident", async () => {
    const isol8 = engine({ mode: "persistent" });
    const result = await isol8.execute({ runtime: "bash", code: "true" });
    const info = await new Docker().getContainer(result.containerId ?? "").inspect();
    const status = readFileSync(`/proc/${info.State.Pid}/status`, "utf8");
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    assert.ok(rssKb > 0 && rssKb <= 8 * 1024, `supervisor RSS ${rssKb} kB`);
  });
});
