// Long-lived sandboxes (src/sandbox/) must behave the same under every OCI
// runtime: one list of cases, run by sandboxes-runc.test.ts and
// sandboxes-runsc.test.ts. Where gVisor differs, its OciRuntime says so and
// the case says what holds instead.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DockerIsol8 } from "../../src/engine/docker-isol8.js";
import {
  ProcessNotFoundError,
  ProcessStartError,
  SandboxEndedError,
  SandboxNotFoundError,
} from "../../src/sandbox/errors.js";
import type { DockerIsol8Options } from "../../src/types.js";
import type { OciRuntime } from "./conformance.js";
import { containerExists, docker } from "./containers.js";
import { engine } from "./engine.js";
import { eventually } from "./eventually.js";

/** The engine options sandbox tests add to a runtime's (the image under test). */
export const SANDBOX_ENGINE: DockerIsol8Options = {};
/** The same for sandbox tests of the node runtime (their sandboxes ask for `runtime: "node"`). */
export const SANDBOX_NODE_ENGINE: DockerIsol8Options = {};

/** Registers every sandbox case for `runtime`. */
export function sandboxCases(runtime: OciRuntime): void {
  const options = { ...runtime.options, ...SANDBOX_ENGINE };
  const isol8 = engine(options);

  describe(`${runtime.name}: sandbox commands`, () => {
    test("a foreground command: its result (a non-zero exit too), as uid 100 with no capabilities, with env and cwd", async () => {
      await using sandbox = await isol8.createSandbox({ env: { GREETING: "hello" } });
      const result = await sandbox.commands.run(
        'echo "$GREETING $WHO"; pwd; id -u; grep CapEff /proc/self/status | tr -s "\\t" " "; echo oops >&2; exit 3',
        { envs: { WHO: "world" }, cwd: "/sandbox/work/here" },
      );
      assert.deepEqual(
        { ...result, cpuMs: 0 },
        {
          exitCode: 3,
          stdout: "hello world\n/sandbox/work/here\n100\nCapEff: 0000000000000000\n",
          stderr: "oops\n",
          timedOut: false,
          cpuMs: 0,
        },
      );
      const argv = await sandbox.commands.run([
        "python3",
        "-c",
        "import sys; print(sys.argv[1:])",
        "a b",
        "$c",
      ]);
      assert.equal(argv.stdout, "['a b', '$c']\n");
    });

    test("background processes run side by side, outlive the call, are listed, and can be reconnected to", async () => {
      await using sandbox = await isol8.createSandbox();
      const heard: string[] = [];
      const server = await sandbox.commands.run(
        "echo started; while read line; do echo got:$line; done; echo bye",
        { background: true, stdin: true, onStdout: (data) => heard.push(data) },
      );
      const ticker = await sandbox.commands.run(["sleep", "60"], { background: true });
      assert.ok(server.pid > 0 && ticker.pid > 0 && server.pid !== ticker.pid);
      assert.ok(await eventually(() => server.stdout === "started\n"));

      const listed = await sandbox.commands.list();
      assert.deepEqual(
        listed.map((p) => [p.pid, p.cmd, p.pty]).sort(),
        [
          [server.pid, "echo started; while read line; do echo got:$line; done; echo bye", false],
          [ticker.pid, "sleep 60", false],
        ].sort(),
      );

      // Another caller: hears what was printed so far, then what comes next.
      const replayed: string[] = [];
      const again = await sandbox.commands.connect(server.pid, {
        onStdout: (d) => replayed.push(d),
      });
      await sandbox.commands.sendStdin(server.pid, "one\n");
      await again.sendStdin("two\n");
      await again.closeStdin();
      const result = await server.wait();
      assert.equal(result.exitCode, 0);
      assert.equal(result.stdout, "started\ngot:one\ngot:two\nbye\n");
      // The second handle's own end says its callbacks have heard everything.
      assert.equal((await again.wait()).exitCode, 0);
      assert.equal(replayed.join(""), "started\ngot:one\ngot:two\nbye\n");
      assert.equal(heard.join(""), "started\ngot:one\ngot:two\nbye\n");

      // The ticker ran on beside it until killed, with its group.
      assert.equal(ticker.exitCode, undefined);
      assert.equal(await sandbox.commands.kill(ticker.pid), true);
      assert.deepEqual(
        { exitCode: ticker.exitCode, signal: (await ticker.wait()).signal },
        { exitCode: 137, signal: "SIGKILL" },
      );
      assert.deepEqual(await sandbox.commands.list(), []);
      assert.equal(await sandbox.commands.kill(ticker.pid), false);
      // An ended process can still be reconnected to for its result.
      assert.equal((await (await sandbox.commands.connect(ticker.pid)).wait()).exitCode, 137);
      await assert.rejects(sandbox.commands.connect(99_999), ProcessNotFoundError);
      assert.throws(() => sandbox.commands.sendStdin(99_999, "x"), ProcessNotFoundError);
    });

    test("a process's group goes with it, and a process's own timeout kills it", async () => {
      await using sandbox = await isol8.createSandbox();
      // The shell leaves a child in its group and exits: the child is killed with it.
      const leader = await sandbox.commands.run("sleep 300 & echo $!");
      const child = leader.stdout.trim();
      // SIGKILL is sent as the leader is reaped; the child is gone once it has died and
      // been reaped too (a moment later), never left running for 300 s.
      const gone = async () =>
        (await sandbox.commands.run(`kill -0 ${child} 2>/dev/null && echo alive || echo gone`))
          .stdout === "gone\n";
      assert.ok(await eventually(gone, 5_000), `process ${child} still runs`);

      const slow = await sandbox.commands.run(["sleep", "30"], { timeoutMs: 300 });
      assert.equal(slow.timedOut, true);
      assert.equal(slow.exitCode, 137);
    });

    test("twenty commands at once in one sandbox each get their own output", async () => {
      await using sandbox = await isol8.createSandbox();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          sandbox.commands.run(`for n in 1 2 3; do echo ${i}-$n; done`),
        ),
      );
      for (const [i, result] of results.entries())
        assert.equal(result.stdout, `${i}-1\n${i}-2\n${i}-3\n`);
    });

    test("bad commands and options are refused naming the field", async () => {
      await using sandbox = await isol8.createSandbox();
      await assert.rejects(sandbox.commands.run(""), /cmd: must not be empty/);
      await assert.rejects(sandbox.commands.run([]), /cmd: must be a command string/);
      await assert.rejects(
        sandbox.commands.run("true", { cwd: "relative" }),
        /cwd: "relative" is not an absolute path/,
      );
      await assert.rejects(
        sandbox.commands.run("true", { envs: { "1X": "y" } }),
        /envs: "1X" is not a valid/,
      );
      await assert.rejects(
        sandbox.commands.run("true", { timeoutMs: -5 }),
        /timeoutMs: -5 is not a whole number/,
      );
      await assert.rejects(
        sandbox.pty.create({ cols: 0, rows: 10 }),
        /cols: 0 is not a whole number/,
      );
      await assert.rejects(
        isol8.createSandbox({ timeoutMs: 10 }),
        /timeoutMs: 10 is not a whole number from 1000/,
      );
      await assert.rejects(
        isol8.createSandbox({ runtime: "cobol" as "python" }),
        /runtime: "cobol" is not one of/,
      );
      await assert.rejects(isol8.createSandbox({ pidsLimit: 0 }), /pidsLimit: 0/);
      await assert.rejects(
        isol8.createSandbox({ metadata: { a: 1 as unknown as string } }),
        /metadata.a: must be a string/,
      );
      // A program that is not there is a result (127), not an error.
      assert.equal((await sandbox.commands.run(["no-such-program"])).exitCode, 127);
    });
  });

  describe(`${runtime.name}: sandbox terminals`, () => {
    test("a program on a terminal: its size, a tty, input, resizing with SIGWINCH, and its exit code", async () => {
      await using sandbox = await isol8.createSandbox();
      let screen = "";
      const terminal = await sandbox.pty.create({
        cols: 100,
        rows: 30,
        // `read` (not readline, which Debian's runsc breaks) and a WINCH trap.
        cmd: "trap 'echo resized:$(stty size)' WINCH; stty size; tty; read -r line; echo got:$line; sleep 0.5; read -r again; exit 7",
        onData: (data) => {
          screen += Buffer.from(data).toString();
        },
      });
      // The size, then the terminal's name: output may come in any number of pieces.
      assert.ok(await eventually(() => /30 100\r\n\/dev\/pts\/\d+/.test(screen)), screen);
      await sandbox.pty.sendInput(terminal.pid, "hello\r");
      assert.ok(await eventually(() => screen.includes("got:hello")), screen);
      await sandbox.pty.resize(terminal.pid, { cols: 120, rows: 40 });
      assert.ok(await eventually(() => screen.includes("resized:40 120")), screen);
      await terminal.sendStdin("bye\r");
      const result = await terminal.wait();
      assert.equal(result.exitCode, 7);
      assert.deepEqual((await sandbox.commands.list()).length, 0);
    });

    test(`Ctrl-C on a terminal ${runtime.terminalSignals ? "interrupts" : "is input (no SIGINT under this runtime)"}; kill() ends it`, async () => {
      await using sandbox = await isol8.createSandbox();
      let screen = "";
      const terminal = await sandbox.pty.create({
        cols: 80,
        rows: 24,
        cmd: "trap 'echo interrupted; exit 5' INT; echo ready; while :; do sleep 0.1; done",
        onData: (data) => {
          screen += Buffer.from(data).toString();
        },
      });
      assert.ok(await eventually(() => screen.includes("ready")));
      await sandbox.pty.sendInput(terminal.pid, "\x03");
      if (runtime.terminalSignals) {
        assert.equal((await terminal.wait()).exitCode, 5);
        assert.match(screen, /interrupted/);
      } else {
        assert.equal(await sandbox.pty.kill(terminal.pid), true);
        assert.equal((await terminal.wait()).exitCode, 137);
      }
    });
  });

  describe(`${runtime.name}: sandbox lifetime`, () => {
    test("listed with its metadata, found by id, and after kill() ended: its processes report SIGKILL and its container is gone", async () => {
      const sandbox = await isol8.createSandbox({
        metadata: { owner: "tests" },
        timeoutMs: 60_000,
      });
      const info = await sandbox.getInfo();
      assert.equal(info.state, "running");
      assert.deepEqual(info.metadata, { owner: "tests" });
      assert.ok(info.endAt.getTime() - info.startedAt.getTime() >= 59_000);
      const listed = (await isol8.listSandboxes()).find((s) => s.sandboxId === sandbox.sandboxId);
      assert.equal(listed?.state, "running");
      assert.equal(await isol8.connectSandbox(sandbox.sandboxId), sandbox);
      await assert.rejects(isol8.connectSandbox("no-such-sandbox"), SandboxNotFoundError);

      const container = (await sandbox.commands.run("hostname")).stdout.trim();
      // One in a session of its own: not the process's group, yet it ends with the sandbox.
      const daemon = await sandbox.commands.run("setsid sleep 600 & sleep 600", {
        background: true,
      });
      await sandbox.kill();
      assert.deepEqual(
        { exitCode: (await daemon.wait()).exitCode, state: (await sandbox.getInfo()).state },
        { exitCode: 137, state: "ended" },
      );
      assert.equal((await sandbox.getInfo()).endReason, "killed");
      assert.equal(await containerExists(container), false);
      await assert.rejects(sandbox.commands.run("true"), SandboxEndedError);
      await assert.rejects(sandbox.setTimeout(5_000), SandboxEndedError);
    });

    test("getMetrics: memory a process holds, its limit, CPU it spent, bytes written to /sandbox", async () => {
      await using sandbox = await isol8.createSandbox();
      const before = await sandbox.getMetrics();
      const holder = await sandbox.commands.run(
        "python3 -c \"import sys,time; b=bytearray(80*1024*1024); [b.__setitem__(i,1) for i in range(0,len(b),4096)]; print('held', flush=True); time.sleep(60)\"",
        { background: true },
      );
      await sandbox.commands.run(
        "head -c 8388608 /dev/urandom > /sandbox/blob; i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done",
      );
      assert.ok(await eventually(() => holder.stdout.includes("held")), holder.stderr);
      const during = await sandbox.getMetrics();
      assert.equal(during.memTotal, 512 * 1024 * 1024);
      assert.ok(
        during.memUsed - before.memUsed > 70 * 1024 * 1024,
        `${before.memUsed} -> ${during.memUsed}`,
      );
      assert.ok(
        during.diskUsed - before.diskUsed >= 8 * 1024 * 1024,
        `${before.diskUsed} -> ${during.diskUsed}`,
      );
      assert.ok(during.diskTotal > during.diskUsed);
      assert.ok(
        during.cpuUsedPct > 0 && during.cpuUsedPct <= 100 * during.cpuCount + 5,
        String(during.cpuUsedPct),
      );
      assert.deepEqual([during.cpuCount, during.networkRxBytes, during.networkTxBytes], [1, 0, 0]);
      await holder.kill();
    });

    test("a sandbox ends at its timeout unless setTimeout moves it", async () => {
      const short = await isol8.createSandbox({ timeoutMs: 1_000 });
      const moved = await isol8.createSandbox({ timeoutMs: 1_000 });
      await moved.setTimeout(30_000);
      await assert.rejects(moved.setTimeout(500), /timeoutMs: 500 is not a whole number/);
      const sleeper = await short.commands.run(["sleep", "60"], { background: true });
      assert.equal((await sleeper.wait()).exitCode, 137);
      assert.equal((await short.getInfo()).endReason, "timeout");
      assert.equal(await moved.isRunning(), true);
      assert.equal((await moved.commands.run("echo still")).stdout, "still\n");
      await moved.kill();
    });

    test("a sandbox whose container dies is reported ended, and its processes with it", async () => {
      await using sandbox = await isol8.createSandbox();
      const container = (await sandbox.commands.run("hostname")).stdout.trim();
      const sleeper = await sandbox.commands.run(["sleep", "60"], { background: true });
      await docker.getContainer(container).kill();
      assert.equal((await sleeper.wait()).exitCode, 137);
      assert.ok(await eventually(async () => (await sandbox.getInfo()).state === "ended"));
      await assert.rejects(sandbox.commands.run("true"), SandboxEndedError);
    });

    test("secrets reach processes and are masked in what they print", async () => {
      const masked = engine({ ...options, secrets: { API_TOKEN: "tok-4f9a2c81e7" } });
      await using sandbox = await masked.createSandbox();
      const result = await sandbox.commands.run('echo "token=$API_TOKEN"; echo "$API_TOKEN" >&2');
      assert.equal(result.stdout, "token=***\n");
      assert.equal(result.stderr, "***\n");
    });

    test("stopping the engine ends its sandboxes", async () => {
      const own = new DockerIsol8(options);
      const sandbox = await own.createSandbox();
      const container = (await sandbox.commands.run("hostname")).stdout.trim();
      await own.stop();
      assert.deepEqual(
        { state: (await sandbox.getInfo()).state, reason: (await sandbox.getInfo()).endReason },
        { state: "ended", reason: "engine stopped" },
      );
      assert.equal(await containerExists(container), false);
    });
  });

  describe(`${runtime.name}: sandbox process limit`, () => {
    const what = runtime.pidsLimitCountsProcesses
      ? "a start past pidsLimit is refused with ProcessStartError naming it, and works again once a process ends"
      : "pidsLimit is Docker's limit on the runtime's host threads (gVisor): many processes start";
    test(what, async () => {
      await using sandbox = await isol8.createSandbox({ pidsLimit: 8 });
      const started = [];
      let refusal: unknown;
      for (let i = 0; i < 12 && refusal === undefined; i++) {
        try {
          started.push(await sandbox.commands.run(["sleep", "60"], { background: true }));
        } catch (error) {
          refusal = error;
        }
      }
      if (!runtime.pidsLimitCountsProcesses) {
        assert.equal(refusal, undefined);
        return;
      }
      assert.ok(refusal instanceof ProcessStartError, String(refusal));
      assert.match(refusal.message, /process limit \(pidsLimit 8\) is reached/);
      assert.ok(started.length >= 5 && started.length < 8, `${started.length} started`);
      await started[0]?.kill();
      assert.equal((await sandbox.commands.run("echo again")).stdout, "again\n");
    });
  });
}
