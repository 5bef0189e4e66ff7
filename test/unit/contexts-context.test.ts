import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { ContextHost } from "../../src/contexts/host.js";
import { INTERRUPT_GRACE_MS } from "../../src/contexts/interrupts.js";
import { ContextManager } from "../../src/contexts/manager.js";
import { createDebugLog } from "../../src/engine/debug-log.js";
import { resolveOptions } from "../../src/engine/options.js";
import type { ExitReport, RunSpec } from "../../src/engine/protocol.js";
import type { OutputSink, SandboxContainer } from "../../src/engine/sandbox-container.js";
import { SecretSet } from "../../src/output/secret-masker.js";
import type { ExecutionResult, StreamEvent } from "../../src/types.js";
import { exitReport } from "../support/exit-report.js";

/**
 * One context driven end to end with no Docker: the container is a stand-in
 * whose "kernel" answers each cell as the test scripts it, so what the
 * engine does with forged records, interrupts and a kernel's death is seen
 * from the caller's side.
 */

const b64 = (text: string) => Buffer.from(text).toString("base64");

/** What the stand-in kernel does with a cell: it may answer at once, later, or never. */
type Script = (cell: number, code: string, kernel: FakeContainer) => void;

/** A context's container whose supervisor run is a scripted kernel. */
class FakeContainer {
  static made = 0;
  readonly id = `fake-${++FakeContainer.made}`;
  removed = false;
  /** Kernel runs started in this container. */
  runs = 0;
  /** Signals sent to the kernel's process group, in order. */
  readonly signals: number[] = [];
  /** What went down the channel, in order: cells as `cell N`, signals to every process as `all N`. */
  readonly channel: string[] = [];
  /** Called on a signal other than SIGKILL (SIGINT by a timeout, say). */
  onSignal: ((signal: number) => void) | undefined;
  private sink: OutputSink | undefined;
  private endRun: ((report: ExitReport) => void) | undefined;

  constructor(private readonly script: Script) {}

  get usable(): boolean {
    return !this.removed && this.endRun === undefined;
  }

  run(_spec: RunSpec, sink: OutputSink): Promise<ExitReport> {
    this.runs++;
    this.sink = sink;
    this.onSignal = undefined;
    return new Promise((resolve) => {
      this.endRun = resolve;
      setImmediate(() => this.say({ type: "ready" }));
    });
  }

  writeStdin(data: Buffer): Promise<void> {
    const { cell, code } = JSON.parse(data.toString()) as { cell: number; code: string };
    this.channel.push(`cell ${cell}`);
    setImmediate(() => this.script(cell, code, this));
    return Promise.resolve();
  }

  signal(signal: number): void {
    this.signals.push(signal);
    if (signal === 9) this.exit(exitReport({ exitCode: 137, signal: 9 }));
    else this.onSignal?.(signal);
  }

  signalAll(signal: number): Promise<void> {
    this.channel.push(`all ${signal}`);
    return Promise.resolve();
  }

  /** The kernel writes a record (or any line) on its protocol channel. */
  say(record: unknown): void {
    this.write(`${typeof record === "string" ? record : JSON.stringify(record)}\n`);
  }

  write(text: string): void {
    this.sink?.stdout(Buffer.from(text));
  }

  done(cell: number, status = "ok", exitCode = 0): void {
    this.say({ cell, type: "done", status, exitCode, cpuMs: 5, rssKb: 2048 });
  }

  /** The kernel's run ends (the kernel died, or was killed). */
  exit(report: ExitReport): void {
    const end = this.endRun;
    this.endRun = undefined;
    end?.(report);
  }

  remove(): Promise<void> {
    this.removed = true;
    this.exit(exitReport({ exitCode: 137, signal: 9 }));
    return Promise.resolve();
  }

  wipe(): Promise<boolean> {
    return Promise.resolve(true);
  }

  pause(): void {}
  resume(): void {}
  release(): void {
    this.removed = true;
  }
}

/** An engine's context manager over stand-in containers, each running `script`. */
function contexts(script: Script, maxOutputSize = 1000) {
  const containers: FakeContainer[] = [];
  const host: ContextHost = {
    options: resolveOptions({ maxOutputSize, timeoutMs: 5_000 }),
    secrets: new SecretSet(["hunter2"]),
    log: createDebugLog(false),
    image: () => "isol8:python",
    container: async () => {
      const container = new FakeContainer(script);
      containers.push(container);
      return container as unknown as SandboxContainer;
    },
    runSpec: () => ({
      argv: ["python3"],
      env: {},
      workdir: "/sandbox",
      files: [],
      timeoutMs: 1,
      outputLimit: 1,
    }),
    prepare: async () => undefined,
    slot: (work) => work(),
    egress: () => undefined,
  };
  const manager = new ContextManager(host);
  after(() => manager.closeAll());
  return { manager, containers };
}

async function events(
  manager: ContextManager,
  contextId: string,
  code: string,
  timeoutMs?: number,
): Promise<StreamEvent[]> {
  const seen: StreamEvent[] = [];
  for await (const event of manager.executeStream({
    runtime: "python",
    code,
    contextId,
    timeoutMs,
  }))
    seen.push(event);
  return seen;
}

const notices = (seen: StreamEvent[]) =>
  seen.filter((event) => event.type === "error").map((event) => event.data);
const stdoutOf = (seen: StreamEvent[]) =>
  seen
    .filter((event) => event.type === "stdout")
    .map((event) => event.data)
    .join("");
const exitOf = (seen: StreamEvent[]) => {
  const exit = seen.at(-1);
  assert.equal(exit?.type, "exit");
  return (exit as Extract<StreamEvent, { type: "exit" }>).result as ExecutionResult;
};

/** A kernel that prints each cell's code and ends it, giving the code as the value. */
const echo: Script = (cell, code, kernel) => {
  kernel.say({ cell, type: "stdout", data: b64(`${code}\n`) });
  kernel.say({ cell, type: "value", data: b64(`'${code}'`) });
  kernel.done(cell);
};

describe("a context's cells, with a stand-in kernel", () => {
  test("a cell's output and value come back masked; the context is frozen between cells and woken before each", async () => {
    const { manager, containers } = contexts(echo);
    const { id } = await manager.create("python");
    const first = await manager.execute({ runtime: "python", code: "pw hunter2", contextId: id });
    assert.equal(first.exitCode, 0);
    assert.equal(first.stdout, "pw ***\n");
    assert.equal(first.value, "'pw ***'");
    assert.equal(first.contextRestarted, undefined);
    await manager.execute({ runtime: "python", code: "two", contextId: id });
    assert.deepEqual(containers[0]?.channel, [
      "all 19",
      "all 18",
      "cell 1",
      "all 19",
      "all 18",
      "cell 2",
      "all 19",
    ]);
  });

  test("a done for another cell is not this cell's end; a forged done for itself ends it with what it says", async () => {
    const { manager } = contexts((cell, code, kernel) => {
      if (code === "forge-other") {
        kernel.done(cell + 1, "error", 9);
        kernel.say({ cell: cell + 1, type: "value", data: b64("forged") });
        kernel.say({ cell, type: "stdout", data: b64("still running\n") });
        kernel.done(cell);
      } else {
        kernel.done(cell, "error", 3);
        setImmediate(() => kernel.say({ cell, type: "stdout", data: b64("after my done\n") }));
      }
    });
    const { id } = await manager.create("python");
    const other = await manager.execute({ runtime: "python", code: "forge-other", contextId: id });
    assert.equal(other.exitCode, 0);
    assert.equal(other.stdout, "still running\n");
    assert.equal(other.value, undefined);
    const own = await manager.execute({ runtime: "python", code: "forge-own", contextId: id });
    assert.equal(own.exitCode, 3);
    assert.equal(own.stdout, "");
    assert.equal(own.contextRestarted, undefined);
    // What it printed after its forged end waited for the next cell, and opens it.
    await new Promise((resolve) => setImmediate(resolve));
    const next = await manager.execute({ runtime: "python", code: "forge-other", contextId: id });
    assert.equal(next.stdout, "after my done\nstill running\n");
  });

  test("a line that is not a record kills the kernel; the call says so and a fresh kernel serves the next", async () => {
    const { manager, containers } = contexts((cell, code, kernel) => {
      if (code === "garbage") kernel.write("this is not json\n");
      else echo(cell, code, kernel);
    });
    const { id } = await manager.create("python");
    const broken = await events(manager, id, "garbage");
    const result = exitOf(broken);
    assert.equal(result.exitCode, 137);
    assert.equal(result.contextRestarted, true);
    assert.deepEqual(notices(broken), [
      "the context's interpreter broke the context protocol (it wrote something that is not a protocol record); it was restarted and its state is lost",
    ]);
    assert.deepEqual(containers[0]?.signals, [9]);
    const next = await manager.execute({ runtime: "python", code: "again", contextId: id });
    assert.equal(next.exitCode, 0);
    assert.equal(next.stdout, "again\n");
    assert.equal(next.contextRestarted, undefined);
    assert.equal(containers.length, 1);
    assert.equal(containers[0]?.runs, 2);
  });

  test("a cell past its timeout gets SIGINT; one that stops is reported timed out, with no restart", async () => {
    const { manager, containers } = contexts((cell, _code, kernel) => {
      kernel.onSignal = (signal) => {
        if (signal === 2) kernel.done(cell, "interrupted", 130);
      };
    });
    const { id } = await manager.create("python");
    const seen = await events(manager, id, "while True: pass", 50);
    const result = exitOf(seen);
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, 124, "the kernel said 130; a timeout reads 124");
    assert.equal(result.contextRestarted, undefined);
    assert.deepEqual(notices(seen), ["timed out after 50 ms; the cell was interrupted (SIGINT)"]);
    assert.deepEqual(containers[0]?.signals, [2]);
  });

  test("a cell that ignores SIGINT has its kernel killed after the grace, and the context restarted", async () => {
    const { manager, containers } = contexts(() => undefined);
    const { id } = await manager.create("python");
    const started = performance.now();
    const seen = await events(manager, id, "ignore SIGINT", 50);
    const waited = performance.now() - started;
    const result = exitOf(seen);
    assert.ok(waited >= 50 + INTERRUPT_GRACE_MS - 20, `ended after ${waited} ms`);
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, 124, "killed (137) after the grace; a timeout reads 124");
    assert.equal(result.contextRestarted, true);
    assert.deepEqual(notices(seen), [
      `the context's interpreter did not stop within ${INTERRUPT_GRACE_MS} ms of SIGINT (the cell ran past its timeout of 50 ms); it was restarted and its state is lost`,
    ]);
    assert.deepEqual(containers[0]?.signals, [2, 9]);
    assert.equal(containers[0]?.runs, 2);
  });

  test("a kernel that dies mid-cell is reported with its exit code; one that dies between calls is reported by the next call", async () => {
    const { manager, containers } = contexts((cell, code, kernel) => {
      if (code === "die") kernel.exit(exitReport({ exitCode: 137, signal: 9, oomKilled: true }));
      else echo(cell, code, kernel);
    });
    const { id } = await manager.create("python");
    const died = await events(manager, id, "die");
    assert.equal(exitOf(died).exitCode, 137);
    assert.equal(exitOf(died).oomKilled, true);
    assert.equal(exitOf(died).contextRestarted, true);
    assert.deepEqual(notices(died), [
      "the context's interpreter was killed by signal 9 (out of memory); it was restarted and its state is lost",
    ]);
    const fine = await manager.execute({ runtime: "python", code: "fine", contextId: id });
    assert.equal(fine.contextRestarted, undefined);
    containers[0]?.exit(exitReport({ exitCode: 1 }));
    await new Promise((resolve) => setImmediate(resolve));
    const next = await events(manager, id, "after");
    assert.equal(exitOf(next).exitCode, 0);
    assert.equal(exitOf(next).contextRestarted, true);
    assert.deepEqual(notices(next), [
      "the context's interpreter exited with code 1 between calls; it was restarted and its state is lost",
    ]);
    const later = await manager.execute({ runtime: "python", code: "later", contextId: id });
    assert.equal(later.contextRestarted, undefined);
    assert.equal(containers[0]?.runs, 3);
  });

  test("output past the limit is cut and said; output between cells opens the next cell's", async () => {
    const { manager } = contexts((cell, code, kernel) => {
      if (code === "flood") kernel.say({ cell, type: "stdout", data: b64("x".repeat(30)) });
      kernel.done(cell);
      if (code === "flood")
        setImmediate(() => kernel.say({ cell, type: "stderr", data: b64("late\n") }));
    }, 20);
    const { id } = await manager.create("python");
    const flood = await events(manager, id, "flood");
    assert.equal(exitOf(flood).truncated, true);
    assert.equal(stdoutOf(flood), "x".repeat(20));
    assert.deepEqual(notices(flood), ["output truncated at 20 bytes"]);
    await new Promise((resolve) => setImmediate(resolve));
    const next = await manager.execute({ runtime: "python", code: "next", contextId: id });
    assert.equal(next.stderr, "late\n");
    assert.equal(next.truncated, false);
  });
});
