// What a code context may do outside its cells: nothing. Between cells the
// kernel's processes are stopped, so work a cell leaves behind (threads,
// timers, children, even in sessions of their own) uses no CPU while no execution slot is held; a cell that
// forges its own end on the protocol channel is stopped the same way; and a
// kernel that floods the channel is restarted instead of holding the engine.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { collectStream, engine } from "../support/engine.js";
import { pause } from "../support/eventually.js";

/** CPU seconds the kernel's process has used, printed by a python cell. */
const PROCESS_TIME = "import time\nprint(time.process_time())";

/**
 * Python that writes `line` to every descriptor above 2 it can write to: the
 * kernel's private duplicate of the protocol channel is among them.
 */
function writeToChannel(line: string): string {
  return [
    "import os",
    `line = ${JSON.stringify(line)}.encode()`,
    "for fd in range(3, 64):",
    "    try:",
    "        os.write(fd, line)",
    "    except OSError:",
    "        pass",
  ].join("\n");
}

/** How long, from its start, the forging cell spins. */
const SPIN_SECONDS = 3;

describe("code contexts between cells", () => {
  test("a thread a cell left spinning uses no CPU until the next cell", async () => {
    const isol8 = engine();
    const { id } = await isol8.createContext({ runtime: "python" });
    const call = (code: string) => isol8.execute({ runtime: "python", code, contextId: id });
    const started = await call(
      "import threading\ndef spin():\n    while True:\n        pass\nthreading.Thread(target=spin, daemon=True).start()",
    );
    assert.equal(started.exitCode, 0, started.stderr);
    const before = Number((await call(PROCESS_TIME)).stdout);
    await pause(1500);
    const after = Number((await call(PROCESS_TIME)).stdout);
    // Running, the thread would have used about 1.5 s of CPU in the pause.
    assert.ok(after - before < 0.5, `the kernel used ${after - before} s of CPU between cells`);
  });

  test("a child process of a cell is stopped between cells too", async () => {
    const isol8 = engine();
    const { id } = await isol8.createContext({ runtime: "python" });
    const call = (code: string) => isol8.execute({ runtime: "python", code, contextId: id });
    await call(
      "import subprocess\nchild = subprocess.Popen(['sh', '-c', 'while :; do :; done'])\nprint(child.pid)",
    );
    // utime + stime of the child, in clock ticks.
    const ticks =
      "f = open(f'/proc/{child.pid}/stat').read().split(')')[1].split()\nprint(int(f[11]) + int(f[12]))";
    const before = Number((await call(ticks)).stdout);
    await pause(1500);
    const after = Number((await call(ticks)).stdout);
    assert.ok(after - before < 50, `the child used ${after - before} ticks between cells`);
  });

  test("a child that leaves the kernel's session (setsid) is stopped between cells too", async () => {
    const isol8 = engine();
    const { id } = await isol8.createContext({ runtime: "python" });
    const call = (code: string) => isol8.execute({ runtime: "python", code, contextId: id });
    const spawned = await call(
      [
        "import os, subprocess",
        "child = subprocess.Popen(['sh', '-c', 'while :; do :; done'], start_new_session=True)",
        "print(os.getsid(child.pid) != os.getsid(0))",
      ].join("\n"),
    );
    assert.equal(spawned.stdout, "True\n", spawned.stderr);
    const ticks =
      "f = open(f'/proc/{child.pid}/stat').read().split(')')[1].split()\nprint(int(f[11]) + int(f[12]))";
    const before = Number((await call(ticks)).stdout);
    await pause(1500);
    const after = Number((await call(ticks)).stdout);
    // In a session of its own, a signal to the kernel's group misses it.
    assert.ok(after - before < 50, `the child used ${after - before} ticks between cells`);
  });

  test("node: timers a cell set do not fire between cells", async () => {
    const isol8 = engine();
    const { id } = await isol8.createContext({ runtime: "node" });
    const call = (code: string) => isol8.execute({ runtime: "node", code, contextId: id });
    const set = await call("globalThis.ticks = 0; setInterval(() => ticks++, 10); ticks");
    assert.equal(set.value, "0");
    await pause(1000);
    const ticks = Number((await call("ticks")).value);
    // Left running, the interval would have fired about 100 times.
    assert.ok(ticks < 20, `the interval fired ${ticks} times between cells`);
  });

  test("a cell that forges its own end on the channel is stopped with the rest of the context", async () => {
    const isol8 = engine({ timeoutMs: 10_000 });
    const { id } = await isol8.createContext({ runtime: "python" });
    const call = (code: string) => isol8.execute({ runtime: "python", code, contextId: id });
    const forged = await call(
      [
        "import time",
        // The deadline is set before the forgery: the engine may stop the
        // cell while it is still writing, and a deadline set after it would
        // then start counting only when the next cell wakes it.
        "_t = time.time()",
        "open('/sandbox/t0', 'w').write(str(time.process_time()))",
        writeToChannel('{"cell":1,"type":"done","status":"ok","exitCode":0,"cpuMs":0,"rssKb":0}\n'),
        // Shorter than the pause below: left running, it would spend all
        // of it on the CPU before the next cell; stopped, its deadline has
        // passed by the time the next cell wakes it.
        `while time.time() - _t < ${SPIN_SECONDS}:`,
        "    pass",
      ].join("\n"),
    );
    // The forger can lie about its own cell, which then ends early...
    assert.equal(forged.exitCode, 0);
    assert.equal(forged.timedOut, false);
    // ...but not keep running on the CPU outside a cell.
    await pause(SPIN_SECONDS * 1000 + 500);
    const next = await call("print(time.process_time() - float(open('/sandbox/t0').read()))");
    assert.equal(next.exitCode, 0, next.stderr);
    const ranOn = Number(next.stdout);
    assert.ok(ranOn < SPIN_SECONDS / 2, `the forged cell ran on for ${ranOn} s of ${SPIN_SECONDS}`);
    assert.equal((await call("print(6 * 7)")).stdout, "42\n");
  });

  test("a kernel that floods its protocol channel is restarted, and the engine stays responsive", async () => {
    const isol8 = engine({ timeoutMs: 60_000 });
    const { id } = await isol8.createContext({ runtime: "python" });
    const call = (code: string) => isol8.execute({ runtime: "python", code, contextId: id });
    await call("kept = 1");
    const idle = process.memoryUsage().rss;
    const events = await collectStream(isol8, {
      runtime: "python",
      contextId: id,
      code: [
        "import os",
        `batch = ${JSON.stringify('{"cell":2,"type":"stdout","data":""}\n')}.encode() * 100`,
        "fds = []",
        "for fd in range(3, 64):",
        "    try:",
        "        os.write(fd, b'')",
        "        fds.append(fd)",
        "    except OSError:",
        "        pass",
        "while True:",
        "    for fd in fds:",
        "        os.write(fd, batch)",
      ].join("\n"),
    });
    const grown = process.memoryUsage().rss - idle;
    const exit = events.map((e) => e.event).find((e) => e.type === "exit");
    assert.ok(exit?.type === "exit");
    assert.equal(exit.result.contextRestarted, true);
    assert.equal(exit.result.timedOut, false, "ended by the channel's budget, not the timeout");
    assert.ok(
      events.some(
        (e) =>
          e.event.type === "error" &&
          /sent more than \d+ bytes of protocol for one cell/.test(e.event.data),
      ),
      "the notice says why the interpreter was restarted",
    );
    assert.ok(grown < 256 * 1024 * 1024, `the engine grew by ${grown} bytes`);
    // A fresh interpreter answers.
    const after = await call("print('alive')");
    assert.equal(after.stdout, "alive\n");
  });
});
