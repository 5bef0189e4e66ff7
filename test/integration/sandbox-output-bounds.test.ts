// A long-lived sandbox's output under pressure (runc): a process that floods
// its stdout with nobody reading costs the engine bounded memory and keeps
// only the engine's maxOutputBytes, while other processes of the sandbox go
// on; and the supervisor's credit window holds: a process whose engine-side
// consumer stalls gets at most the window (and the pipes beside it) ahead.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { RUNC } from "../support/conformance.js";
import { docker } from "../support/containers.js";
import { engine } from "../support/engine.js";
import { eventually } from "../support/eventually.js";
import { SANDBOX_ENGINE } from "../support/sandbox-cases.js";

const KiB = 1024;
const MiB = 1024 * KiB;
/** The engine's kept output per process, smaller than the default so that a full log is quick to reach. */
const MAX_OUTPUT = 256 * KiB;
/** What the supervisor may hold of one process's output before the engine's credits answer it (processes.c). */
const OUTPUT_WINDOW = 256 * KiB;
/** A pipe's capacity on Linux, unless its process enlarges it (the writers here do not). */
const PIPE_CAPACITY = 64 * KiB;
/** The most the supervisor reads from a pipe at once (CHUNK in supervisor.h). */
const SUPERVISOR_CHUNK = 64 * KiB;

const isol8 = engine({ ...RUNC.options, ...SANDBOX_ENGINE, maxOutputSize: MAX_OUTPUT });

/** The engine's memory, sampled whenever asked: the highest seen of each figure. */
class MemoryPeaks {
  readonly start = process.memoryUsage();
  rss = this.start.rss;
  arrayBuffers = this.start.arrayBuffers;

  sample(): void {
    const now = process.memoryUsage();
    this.rss = Math.max(this.rss, now.rss);
    this.arrayBuffers = Math.max(this.arrayBuffers, now.arrayBuffers);
  }

  describe(): string {
    const mb = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
    return `rss ${mb(this.start.rss)} -> peak ${mb(this.rss)}, arrayBuffers ${mb(this.start.arrayBuffers)} -> peak ${mb(this.arrayBuffers)}`;
  }
}

/** The garbage collector, which the test process was not started with --expose-gc for. */
function collector(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

/** What the engine's objects and buffers hold once its garbage is collected. */
function retained(): number {
  collector()();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** Bytes a process has written (wchar of /proc/<pid>/io), read from its own /proc. */
function written(io: string): number {
  const match = /^wchar: (\d+)$/m.exec(io);
  assert.ok(match, `no wchar line in ${JSON.stringify(io)}`);
  return Number(match[1]);
}

test("a process flooding stdout that nobody reads: the engine's memory stays bounded, it keeps maxOutputBytes, and another process of the sandbox still runs", async (t) => {
  await using sandbox = await isol8.createSandbox();
  const before = retained();
  const flood = await sandbox.commands.run(["cat", "/dev/zero"], { background: true });
  const memory = new MemoryPeaks();
  const sampler = setInterval(() => memory.sample(), 10);
  const target = 512 * MiB;
  let printed = 0;
  let answers = 0;
  /** What the engine held when half was printed. */
  let halfway: number | undefined;
  try {
    // The flood's /proc/<pid>/io is readable once it runs cat: between the
    // supervisor's fork (which it reports as the start) and the exec, the
    // process is still the supervisor's non-dumpable copy.
    assert.ok(
      await eventually(
        async () => (await sandbox.commands.run(["cat", `/proc/${flood.pid}/io`])).exitCode === 0,
      ),
    );
    // Each look at the flood's progress is a second process of the same sandbox,
    // started, run and answered while the flood goes on.
    while (printed < target) {
      const io = await sandbox.commands.run(["cat", `/proc/${flood.pid}/io`]);
      assert.equal(io.exitCode, 0, io.stderr);
      assert.equal(flood.exitCode, undefined, "the flood still runs");
      printed = written(io.stdout);
      answers++;
      memory.sample();
      if (halfway === undefined && printed >= target / 2) halfway = retained() - before;
    }
  } finally {
    clearInterval(sampler);
  }
  assert.ok(answers > 1, `${answers} answers`);
  // While it floods, the engine holds its log and the frames on their way: a
  // few MiB, not what was printed - halfway as at the end, so it does not grow
  // with the output. A reading after a collection still varies by some 20
  // MiB with what else the process holds at that moment (frames on their
  // way, compiled code, the other processes' last results), hence the room.
  // The peaks, garbage included, stay well under what was printed too.
  const held = retained() - before;
  const figures = `${(printed / MiB).toFixed(0)} MiB printed, ${answers} other processes answered; ${((halfway ?? Number.NaN) / MiB).toFixed(1)} MiB held halfway, ${(held / MiB).toFixed(1)} MiB at the end; ${memory.describe()}`;
  t.diagnostic(figures);
  assert.ok((halfway ?? Number.POSITIVE_INFINITY) < 48 * MiB, figures);
  assert.ok(held < 48 * MiB, figures);
  // The resident size also holds garbage not yet collected, which a loaded
  // machine collects later: a looser bound, still far below what was printed.
  assert.ok(memory.rss - memory.start.rss < printed / 2, memory.describe());
  assert.ok(memory.arrayBuffers < printed / 4, memory.describe());

  assert.equal(await flood.kill(), true);
  const result = await flood.wait();
  assert.equal(result.signal, "SIGKILL");
  // The log is full, and holds no more than its capacity: the flood's last bytes.
  assert.equal(Buffer.byteLength(result.stdout), MAX_OUTPUT);
  assert.equal(result.stdout, "\0".repeat(MAX_OUTPUT));
});

/** Blocks this thread (and so the engine's event loop) for `ms`. */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The pid, in this machine's pid namespace, of the process `pid` of the container whose first process is `initPid`. */
function hostPid(initPid: number, pid: number): number {
  const namespace = readlinkSync(`/proc/${initPid}/ns/pid`);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/pid`) !== namespace) continue;
      const ids = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1];
      if (ids?.trim().split(/\s+/).at(-1) === String(pid)) return Number(entry);
    } catch {
      // A process that ended while we looked.
    }
  }
  throw new Error(`no process ${pid} in the container of ${initPid}`);
}

test("the credit window: while the engine's consumer of a process's output stalls, the process gets at most the window (and its pipe) ahead of what the engine took", async (t) => {
  await using sandbox = await isol8.createSandbox();
  const container = (await sandbox.commands.run("hostname")).stdout.trim();
  const initPid = (await docker.getContainer(container).inspect()).State.Pid;
  const total = 6 * MiB;
  const stalls = [0, 2 * MiB, 4 * MiB];
  let received = 0;
  let writerOnHost = 0;
  const aheadAtStalls: number[] = [];

  // The consumer: a synchronous callback that, at each stall point, holds the
  // engine's event loop until the writer has stopped moving - then compares
  // what the writer has written (its wchar, read from this machine's /proc,
  // which needs nothing of the engine) with what the engine has taken.
  const onStdout = (data: string) => {
    received += data.length; // "\0" bytes: one character each
    const next = stalls[aheadAtStalls.length];
    if (next === undefined || received < next) return;
    const io = `/proc/${writerOnHost}/io`;
    let last = -1;
    let steady = 0;
    for (let waited = 0; steady < 5 && waited < 20_000; waited += 100) {
      blockFor(100);
      const now = written(readFileSync(io, "utf8"));
      steady = now === last ? steady + 1 : 0;
      last = now;
    }
    aheadAtStalls.push(last - received);
  };
  // The writer waits for a line on stdin, so it is found on the host before it writes.
  const writer = await sandbox.commands.run(`read -r go; exec head -c ${total} /dev/zero`, {
    background: true,
    stdin: true,
    onStdout,
  });
  writerOnHost = hostPid(initPid, writer.pid);
  await writer.sendStdin("go\n");
  const result = await writer.wait();
  t.diagnostic(`bytes ahead at each stall: ${aheadAtStalls.join(", ")}`);

  // What the writer can have written that the engine has not taken: the
  // uncredited window, one chunk the supervisor has read and is sending, and a full pipe.
  const bound = OUTPUT_WINDOW + SUPERVISOR_CHUNK + PIPE_CAPACITY;
  for (const ahead of aheadAtStalls) {
    assert.ok(
      ahead <= bound,
      `the writer got ${ahead} bytes ahead (bound ${bound}): ${aheadAtStalls}`,
    );
    // And the stall was real: the writer did run ahead, filling the window.
    assert.ok(
      ahead >= OUTPUT_WINDOW / 2,
      `the writer got only ${ahead} bytes ahead: ${aheadAtStalls}`,
    );
  }
  // And once the consumer keeps up again, everything arrives.
  assert.deepEqual(
    { exitCode: result.exitCode, received, stalls: aheadAtStalls.length },
    { exitCode: 0, received: total, stalls: stalls.length },
    `${result.stderr} ${(await sandbox.getInfo()).endReason ?? ""}`,
  );
});
