// The supervisor (PID 1 of every sandbox) must give sandboxed code nothing:
// no way to reach its channel, forge its frames, signal or trace it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { createDockerClient } from "../../src/backend/docker/client.js";
import type { DockerIsol8 } from "../../src/engine/docker-isol8.js";
import { engine } from "../support/engine.js";

/**
 * Python that tries, on PID 1 and on two children of its own (one made
 * non-dumpable), what sandboxed code must not do to the supervisor: signal
 * it, list and open its descriptors, read its environment, open its memory,
 * renice it, trace it. What the children show: the refusals for PID 1 are no
 * blanket rule of /proc or of the sandbox, and non-dumpable alone closes a
 * process's files even to its own user. For PID 1 the uid split (root against
 * uid 100) would refuse all of it by itself; no try from inside can tell which
 * of the two locks refused a read of PID 1, and the test does not claim to.
 */
const TRY_PROCESSES = String.raw`
import ctypes, json, os, signal
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
def try_all(pid):
    out = []
    for sig in (signal.SIGTERM, signal.SIGSTOP, signal.SIGCONT):
        try:
            os.kill(pid, sig); out.append("signal-sent")
        except PermissionError:
            out.append("signal-refused")
    try:
        os.listdir(f"/proc/{pid}/fd"); out.append("listed fd")
    except OSError:
        out.append("refused")
    for name in ("fd/0", "environ", "mem"):
        try:
            with open(f"/proc/{pid}/{name}", "rb") as f:
                if name == "environ":
                    f.read(1)
            out.append("opened " + name)
        except OSError:
            out.append("refused")
    try:
        os.setpriority(os.PRIO_PROCESS, pid, 19); out.append("reniced")
    except OSError:
        out.append("renice-refused")
    if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
        os.waitpid(pid, 0)
        libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
        out.append("traced")
    else:
        out.append("trace-refused")
    return out
def sibling(dumpable):
    # A process of the sandbox user too: a child that ignores SIGTERM and waits.
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.dup2(hold_r, 0)
        if not dumpable:
            libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
        os.write(ready_w, b"x")
        os.read(hold_r, 1)
        os._exit(0)
    os.read(ready_r, 1)
    try:
        return try_all(pid)
    finally:
        os.write(hold_w, b"x")
        os.waitpid(pid, 0)
try:
    os.kill(1, signal.SIGKILL); kill1 = "sent"
except PermissionError:
    kill1 = "refused"
uid_line = [l for l in open("/proc/1/status") if l.startswith("Uid:")][0].split()[1:]
print(json.dumps({"supervisor": try_all(1), "kill": kill1, "uids": uid_line,
                  "dumpable": sibling(True), "nondumpable": sibling(False)}))
`;

interface ProcessTries {
  supervisor: string[];
  kill: string;
  uids: string[];
  dumpable: string[];
  nondumpable: string[];
}

async function tryProcesses(isol8: DockerIsol8): Promise<ProcessTries> {
  const result = await isol8.execute({ runtime: "python", code: TRY_PROCESSES });
  assert.equal(result.stderr, "");
  return JSON.parse(result.stdout) as ProcessTries;
}

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

  test("sandboxed code cannot signal, stop, trace or read the supervisor; the same tries work on a process of its own user", async () => {
    const isol8 = engine({ mode: "persistent" });
    const seen = await tryProcesses(isol8);
    // PID 1 is root (all four uids), and refuses everything.
    assert.deepEqual(seen.uids, ["0", "0", "0", "0"]);
    assert.equal(seen.kill, "refused");
    assert.deepEqual(seen.supervisor, [
      ...["signal-refused", "signal-refused", "signal-refused"],
      ...["refused", "refused", "refused", "refused"],
      "renice-refused",
      "trace-refused",
    ]);
    // Control: a process of the sandbox user gets every signal, read and
    // renice (ptrace is refused by the seccomp profile here, for any target)...
    assert.deepEqual(seen.dumpable, [
      ...["signal-sent", "signal-sent", "signal-sent"],
      ...["listed fd", "opened fd/0", "opened environ", "opened mem"],
      "reniced",
      "trace-refused",
    ]);
    // ...and one that made itself non-dumpable keeps its /proc files closed
    // even to its own user, while signals still reach it.
    assert.deepEqual(seen.nondumpable, [
      ...["signal-sent", "signal-sent", "signal-sent"],
      ...["refused", "refused", "refused", "refused"],
      "reniced",
      "trace-refused",
    ]);
    const next = await isol8.execute({ runtime: "python", code: "print('supervisor still here')" });
    assert.equal(next.stdout, "supervisor still here\n");
  });

  test("control: without seccomp a process of the sandbox user can be traced, but not the supervisor or a non-dumpable process", async () => {
    const seen = await tryProcesses(engine({ security: { seccomp: "unconfined" } }));
    assert.equal(seen.supervisor.at(-1), "trace-refused");
    assert.equal(seen.dumpable.at(-1), "traced");
    assert.equal(seen.nondumpable.at(-1), "trace-refused");
  });

  test("the supervisor stays under 8 MB resident", async () => {
    const isol8 = engine({ mode: "persistent" });
    const result = await isol8.execute({ runtime: "bash", code: "true" });
    const info = await createDockerClient()
      .getContainer(result.containerId ?? "")
      .inspect();
    const status = readFileSync(`/proc/${info.State.Pid}/status`, "utf8");
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    assert.ok(rssKb > 0 && rssKb <= 8 * 1024, `supervisor RSS ${rssKb} kB`);
  });
});
