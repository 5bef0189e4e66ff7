// Long-lived sandboxes under attack, through the library: code inside a
// sandbox going for its supervisor (PID 1), another sandbox, its terminals
// and its files; a fork bomb while the engine starts more; floods beside a
// keystroke; stdin and frames for processes that ended; bad and huge
// requests; kernel limits that sandboxes share; the container killed from
// outside mid-operation. Each attack must fail safely, and the sandbox (or,
// where it is the victim, the engine) must serve the next operation.
// runc unless the runtime matters; then runsc too.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { InvalidOptionError } from "../../src/engine/errors.js";
import { SandboxFileError } from "../../src/engine/session-files.js";
import {
  ProcessNotFoundError,
  ProcessStartError,
  SandboxEndedError,
  SandboxFileNotFoundError,
} from "../../src/sandbox/errors.js";
import type { Sandbox } from "../../src/sandbox/sandbox.js";
import { RUNC, RUNSC } from "../support/conformance.js";
import { containerExists, docker } from "../support/containers.js";
import { engine } from "../support/engine.js";
import { eventually } from "../support/eventually.js";
import { requireRunsc } from "../support/gvisor.js";
import { SANDBOX_ENGINE } from "../support/sandbox-cases.js";

const isol8 = engine({ ...RUNC.options, ...SANDBOX_ENGINE });

/** The sandbox's container id (the engine's own record of it). */
function containerId(sandbox: Sandbox): string {
  return (sandbox as unknown as { container: { id: string } }).container.id;
}

/** The sandbox answers: a command runs in it and prints what it was told. */
async function assertServes(sandbox: Sandbox): Promise<void> {
  const result = await sandbox.commands.run("echo still-here");
  assert.deepEqual([result.exitCode, result.stdout], [0, "still-here\n"]);
}

describe("runc: code in a sandbox against its supervisor and other sandboxes", () => {
  test("PID 1 can be neither signalled, traced, nor read through /proc by the sandbox's code", async () => {
    await using sandbox = await isol8.createSandbox();
    const probe = await sandbox.commands.run([
      "python3",
      "-c",
      `
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
def attempt(name, call):
    try:
        call()
        print(name, "ok")
    except OSError as e:
        print(name, e.errno)
for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP, signal.SIGINT, signal.SIGHUP):
    attempt("kill-%d" % sig, lambda: os.kill(1, sig))
attempt("kill-group", lambda: os.killpg(1, signal.SIGKILL))
def trace():
    if libc.ptrace(16, 1, 0, 0) != 0:  # PTRACE_ATTACH
        raise OSError(ctypes.get_errno(), "ptrace")
attempt("ptrace", trace)
for name in ("environ", "mem", "maps", "fd/0", "cwd/.", "root/."):
    attempt("read-" + name, lambda: os.listdir("/proc/1/" + name) if name.endswith(".") else open("/proc/1/" + name, "rb").read(1))
def priority():
    os.setpriority(os.PRIO_PROCESS, 1, 19)
attempt("renice", priority)
print("status", [l for l in open("/proc/1/status") if l.startswith(("Uid:", "CapEff:"))])
`,
    ]);
    const lines = probe.stdout.trim().split("\n");
    const outcome = Object.fromEntries(
      lines.filter((l) => !l.startsWith("status")).map((l) => l.split(" ") as [string, string]),
    );
    // EPERM (1) for every signal, the trace and renice; EACCES (13) or EPERM for /proc of a non-dumpable root process.
    for (const name of ["kill-9", "kill-15", "kill-19", "kill-2", "kill-1", "renice"])
      assert.equal(outcome[name], "1", `${name}: ${probe.stdout}${probe.stderr}`);
    // PID 1 leads no group of its own (its children each have a session): ESRCH (3), or EPERM.
    assert.ok(["1", "3"].includes(outcome["kill-group"] ?? ""), `kill-group: ${probe.stdout}`);
    assert.ok(["1", "38"].includes(outcome.ptrace ?? ""), `ptrace: ${probe.stdout}`);
    for (const name of ["environ", "mem", "maps", "fd/0", "cwd/.", "root/."])
      assert.ok(
        ["1", "13"].includes(outcome[`read-${name}`] ?? ""),
        `read-${name}: ${probe.stdout}${probe.stderr}`,
      );
    assert.match(probe.stdout, /Uid:\\t0\\t0\\t0\\t0/);
    // The supervisor is untouched: the sandbox serves the next command.
    await assertServes(sandbox);
  });

  test("another sandbox's processes are not there to see or signal", async () => {
    await using victim = await isol8.createSandbox();
    await using attacker = await isol8.createSandbox();
    const sleeper = await victim.commands.run(["sleep", "300"], { background: true });
    // The attacker knows the victim's pid number, and tries every process it can name.
    const seen = await attacker.commands.run(
      // Builtins only, so that no process of its own comes and goes while it counts.
      `n=0; for d in /proc/[0-9]*; do n=$((n+1)); read -r -d '' arg0 < $d/cmdline; echo "$arg0"; done; echo $n; for p in $(seq 2 ${sleeper.pid + 50}); do [ $p = $$ ] || kill -9 $p 2>/dev/null; done; echo done`,
    );
    // Its own pid namespace: PID 1 and this shell, and nothing of the victim's.
    assert.match(seen.stdout, /^\S*isol8-supervisor\n\S*bash\n2\ndone\n$/);
    assert.equal(sleeper.exitCode, undefined);
    assert.deepEqual(
      (await victim.commands.list()).map((p) => p.pid),
      [sleeper.pid],
    );
    await assertServes(victim);
  });

  test("a pipe process can neither inject keystrokes into a terminal (TIOCSTI) nor steal its input", async () => {
    await using sandbox = await isol8.createSandbox();
    let screen = "";
    const terminal = await sandbox.pty.create({
      cols: 80,
      rows: 24,
      cmd: ["bash", "-c", "tty; read line; echo got:$line"],
      onData: (bytes) => {
        screen += Buffer.from(bytes).toString();
      },
    });
    assert.ok(await eventually(() => /\/dev\/pts\/\d+/.test(screen)));
    const pts = /\/dev\/pts\/\d+/.exec(screen)?.[0] ?? "";
    const inject = await sandbox.commands.run([
      "python3",
      "-c",
      `
import fcntl, os, termios
fd = os.open("${pts}", os.O_RDWR | os.O_NOCTTY)
try:
    for c in b"evil\\n":
        fcntl.ioctl(fd, termios.TIOCSTI, bytes([c]))
    print("injected")
except OSError as e:
    print("refused", e.errno)
`,
    ]);
    assert.match(inject.stdout, /^refused \d+\n$/, inject.stdout + inject.stderr);
    await sandbox.pty.sendInput(terminal.pid, "mine\r");
    assert.equal((await terminal.wait()).exitCode, 0);
    assert.match(screen, /got:mine/);
    assert.doesNotMatch(screen, /got:evil/);
    await assertServes(sandbox);
  });
});

describe("runc: processes past their limits", () => {
  test("a fork bomb inside while the engine starts more: starts are answered, never hung, and the sandbox is killed and removed", async () => {
    const sandbox = await isol8.createSandbox({ pidsLimit: 64 });
    const id = containerId(sandbox);
    // The shell stays: a process's group is killed when its leader exits, which would end the bomb.
    await sandbox.commands.run("bomb() { bomb | bomb & }; bomb; sleep 300", { background: true });
    // Every start the engine asks for meanwhile is answered: it runs, or is refused naming pidsLimit.
    const starts = await Promise.allSettled(
      Array.from({ length: 40 }, () => sandbox.commands.run(["true"])),
    );
    for (const start of starts) {
      if (start.status === "fulfilled") continue;
      assert.ok(start.reason instanceof ProcessStartError, String(start.reason));
      assert.match(start.reason.message, /pidsLimit 64/);
    }
    // The bomb may still be growing: starts go on, one at a time, until one meets the limit.
    let refusal: unknown = starts.find((s) => s.status === "rejected");
    for (let i = 0; i < 2000 && refusal === undefined; i++) {
      await sandbox.commands.run(["true"]).catch((error: unknown) => {
        refusal = error;
      });
    }
    assert.ok(refusal !== undefined, "the bomb never reached the limit");
    // The supervisor itself still answers: its file operations need no new process.
    await sandbox.files.write("/sandbox/note", "written during the bomb");
    assert.equal(await sandbox.files.read("/sandbox/note"), "written during the bomb");
    await sandbox.kill();
    assert.equal(sandbox.state, "ended");
    assert.equal(await containerExists(id), false);
    // The engine goes on.
    await using next = await isol8.createSandbox();
    await assertServes(next);
  });

  test("a start past the supervisor's table of 1024 processes is refused, not hung", async () => {
    await using sandbox = await isol8.createSandbox({ pidsLimit: 4096 });
    const sleepers = await Promise.allSettled(
      Array.from({ length: 1030 }, () =>
        sandbox.commands.run(["sleep", "300"], { background: true }),
      ),
    );
    const refused = sleepers.filter((s) => s.status === "rejected");
    assert.ok(refused.length >= 6, `${refused.length} refused`);
    for (const start of refused) {
      assert.ok(start.reason instanceof ProcessStartError, String(start.reason));
      assert.match(start.reason.message, /too many processes in this sandbox/);
    }
    const first = sleepers.find((s) => s.status === "fulfilled");
    assert.ok(first?.status === "fulfilled");
    assert.equal(await sandbox.commands.kill(first.value.pid), true);
    await assertServes(sandbox);
  });
});

describe("runc: floods and odd streams", () => {
  test("eight processes flooding output while a terminal's keystroke round trip still completes", async () => {
    await using sandbox = await isol8.createSandbox();
    const floods = await Promise.all(
      Array.from({ length: 8 }, () =>
        sandbox.commands.run(["bash", "-c", "exec yes flood-flood-flood-flood"], {
          background: true,
        }),
      ),
    );
    let screen = "";
    const terminal = await sandbox.pty.create({
      cols: 80,
      rows: 24,
      cmd: ["bash", "-c", "for i in 1 2 3; do read line; echo echo:$line; done"],
      onData: (bytes) => {
        screen += Buffer.from(bytes).toString();
      },
    });
    for (const word of ["alpha", "beta", "gamma"]) {
      await sandbox.pty.sendInput(terminal.pid, `${word}\r`);
      assert.ok(await eventually(() => screen.includes(`echo:${word}`), 30_000), screen);
    }
    assert.equal((await terminal.wait()).exitCode, 0);
    for (const flood of floods) assert.equal(await flood.kill(), true);
    await assertServes(sandbox);
  });

  test("a process writing to its closed stdout, and one that closes its terminal, end with their results", async () => {
    await using sandbox = await isol8.createSandbox();
    const closed = await sandbox.commands.run("exec 1>&-; echo lost; echo said >&2; exit 3");
    assert.deepEqual([closed.exitCode, closed.stdout], [3, ""]);
    assert.match(closed.stderr, /said/);

    let screen = "";
    const terminal = await sandbox.pty.create({
      cols: 80,
      rows: 24,
      // Ignoring SIGHUP: the supervisor's closing the terminal nobody holds hangs it up.
      cmd: ["bash", "-c", "trap '' HUP; echo before; exec 0<&- 1>&- 2>&-; sleep 1; exit 5"],
      onData: (bytes) => {
        screen += Buffer.from(bytes).toString();
      },
    });
    // Input, a resize and the end of input to a terminal nobody holds any more go nowhere, harmlessly.
    await sandbox.pty.sendInput(terminal.pid, "typed into the void\r").catch(() => undefined);
    await sandbox.pty.resize(terminal.pid, { cols: 100, rows: 30 }).catch(() => undefined);
    await terminal.closeStdin().catch(() => undefined);
    const result = await terminal.wait();
    assert.equal(result.exitCode, 5);
    assert.match(screen, /before/);
    await assertServes(sandbox);
  });

  test("stdin for a process that ended: dropped or refused, never a hang, and a stale handle does no harm", async () => {
    await using sandbox = await isol8.createSandbox();
    // A process that never reads its stdin and exits with 1 MiB queued for it.
    const deaf = await sandbox.commands.run(["sleep", "1"], { background: true, stdin: true });
    const writing = deaf.sendStdin("x".repeat(1024 * 1024));
    assert.equal((await deaf.wait()).exitCode, 0);
    await writing;
    await deaf.sendStdin("after the end");
    await deaf.closeStdin();
    deaf.signal("SIGKILL");
    assert.equal(await deaf.kill(), false);
    assert.throws(() => sandbox.commands.sendStdin(deaf.pid, "x"), ProcessNotFoundError);
    assert.throws(() => sandbox.commands.closeStdin(deaf.pid), ProcessNotFoundError);
    await assert.rejects(
      sandbox.pty.resize(deaf.pid, { cols: 10, rows: 10 }),
      ProcessNotFoundError,
    );
    await assertServes(sandbox);
  });
});

describe("runc: bad and huge requests", () => {
  test("NUL bytes anywhere in a request are refused naming the field", async () => {
    await using sandbox = await isol8.createSandbox();
    await assert.rejects(sandbox.commands.run("echo a\0b"), /cmd: must not contain a NUL/);
    await assert.rejects(
      sandbox.commands.run(["echo", "a\0b"]),
      /cmd\[1\]: must not contain a NUL/,
    );
    await assert.rejects(
      sandbox.commands.run("true", { envs: { A: "x\0y" } }),
      /envs.A: must not contain a NUL/,
    );
    await assert.rejects(sandbox.commands.run("true", { cwd: "/sandbox/\0" }), /cwd: /);
    await assert.rejects(
      sandbox.pty.create({ cols: 10, rows: 10, cmd: ["a\0"] }),
      /cmd\[0\]: must not contain a NUL/,
    );
    await assertServes(sandbox);
  });

  test("more environment variables than a process can be given are refused naming envs, and the sandbox lives on", async () => {
    await using sandbox = await isol8.createSandbox({ env: { FROM_SANDBOX: "1" } });
    const many = Object.fromEntries(Array.from({ length: 1100 }, (_, i) => [`V${i}`, "x"]));
    await assert.rejects(sandbox.commands.run("true", { envs: many }), (error: Error) => {
      assert.ok(error instanceof InvalidOptionError, String(error));
      assert.match(error.message, /^envs: 1\d{3} variables .* more than the limit of 1024/);
      return true;
    });
    await assert.rejects(
      sandbox.pty.create({ cols: 10, rows: 10, envs: many }),
      InvalidOptionError,
    );
    await assert.rejects(
      isol8.createSandbox({ env: many }),
      (error: Error) =>
        error instanceof InvalidOptionError && /^env: 1\d{3} variables/.test(error.message),
    );
    // At the limit, with what the sandbox adds, a process starts and sees every variable.
    const base = (await sandbox.commands.run("env -0 | tr -cd '\\0' | wc -c")).stdout.trim();
    const room = 1024 - Number(base);
    const fits = Object.fromEntries(Array.from({ length: room }, (_, i) => [`W${i}`, "y"]));
    const full = await sandbox.commands.run("env | wc -l", { envs: fits });
    assert.equal(full.stdout.trim(), "1024");
    assert.equal((await sandbox.getInfo()).state, "running");
    await assertServes(sandbox);
  });

  test("the largest command line allowed, and one past what exec takes: an exit code, not a dead sandbox", async () => {
    await using sandbox = await isol8.createSandbox();
    const big = "a".repeat(128 * 1024 - 1);
    const one = await sandbox.commands.run(["bash", "-c", "echo ${#1}", "x", big]);
    assert.equal(one.stdout, `${big.length}\n`);
    // 200 such arguments (25 MiB) is more than the kernel lets a program start with.
    const tooMany = await sandbox.commands.run(["true", ...Array.from({ length: 200 }, () => big)]);
    assert.equal(tooMany.exitCode, 127);
    assert.match(tooMany.stderr, /Argument list too long/);
    await assert.rejects(sandbox.commands.run(["true", `${big}b`]), /cmd\[1\]: is larger than/);
    await assertServes(sandbox);
  });
});

describe("runc: files", () => {
  test("a hardlink to a file outside /sandbox cannot be made, and one inside leads nowhere else", async () => {
    await using sandbox = await isol8.createSandbox();
    const links = await sandbox.commands.run(
      "for f in /etc/passwd /etc/hostname /usr/bin/python3; do ln $f /sandbox/$(basename $f) 2>&1 | grep -o 'Invalid cross-device link\\|Operation not permitted' || echo made; done; ln /sandbox/x /tmp/x 2>&1 | grep -o 'No such\\|cross-device'; echo in > /sandbox/x; ln /sandbox/x /tmp/x 2>&1 | grep -o 'cross-device'",
    );
    assert.equal(links.stdout.includes("made"), false, links.stdout);
    for (const name of ["passwd", "hostname", "python3"])
      await assert.rejects(sandbox.files.read(`/sandbox/${name}`), SandboxFileNotFoundError);
    await assertServes(sandbox);
  });

  test("a recursive watch over more folders than a sandbox may watch ends by itself, and the next watch works", async () => {
    await using sandbox = await isol8.createSandbox();
    await sandbox.commands.run("mkdir -p /sandbox/huge && cd /sandbox/huge && mkdir $(seq 1 5000)");
    const exits: string[] = [];
    const started = await sandbox.files
      .watchDir("/sandbox/huge", () => undefined, {
        recursive: true,
        onExit: (reason) => exits.push(String(reason)),
      })
      .then(
        (watch) => ({ watch }),
        (error: Error) => ({ error }),
      );
    if ("error" in started)
      assert.ok(started.error instanceof SandboxFileError, String(started.error));
    else {
      assert.ok(await eventually(() => exits.length === 1), "the watch never ended");
      await started.watch.stop();
    }
    await sandbox.files.remove("/sandbox/huge");
    const events: string[] = [];
    const watch = await sandbox.files.watchDir("/sandbox", (e) =>
      events.push(`${e.type} ${e.name}`),
    );
    await sandbox.files.write("/sandbox/after.txt", "x");
    assert.ok(await eventually(() => events.includes("create after.txt")), events.join());
    await watch.stop();
    await assertServes(sandbox);
  });
});

/** A program that takes every inotify instance its user may have, says how many, and holds them. */
const INOTIFY_HOG = `
import ctypes, time
libc = ctypes.CDLL(None, use_errno=True)
held = 0
while libc.inotify_init1(0) >= 0:
    held += 1
print("holding", held, "errno", ctypes.get_errno(), flush=True)
time.sleep(600)
`;

for (const runtime of [RUNC, RUNSC]) {
  describe(`${runtime.name}: inotify instances taken by another sandbox`, () => {
    if (runtime === RUNSC) before(requireRunsc);
    const runtimeEngine = engine({ ...runtime.options, ...SANDBOX_ENGINE });

    test("a watch that cannot get one fails with a clear error, the sandbox lives on, and watches work once the hog is gone", async () => {
      const hog = await runtimeEngine.createSandbox();
      await using victim = await runtimeEngine.createSandbox();
      const holder = await hog.commands.run(["python3", "-c", INOTIFY_HOG], { background: true });
      assert.ok(await eventually(() => holder.stdout.includes("holding")), holder.stderr);
      const attempt = await victim.files
        .watchDir("/sandbox", () => undefined)
        .then(
          (watch) => watch.stop().then(() => "watched"),
          (error: Error) => error,
        );
      if (runtime === RUNC) {
        // Linux counts inotify instances per user, and every runc sandbox's user is uid 100.
        assert.ok(attempt instanceof SandboxFileError, String(attempt));
        assert.match(String(attempt.message), /^\/sandbox: .*\(EMFILE\)/);
      } else {
        // gVisor's own kernel counts its own.
        assert.equal(attempt, "watched");
      }
      await assertServes(victim);
      await hog.kill();
      const events: string[] = [];
      const watch = await victim.files.watchDir("/sandbox", (e) => events.push(e.name));
      await victim.files.write("/sandbox/seen", "x");
      assert.ok(await eventually(() => events.includes("seen")));
      await watch.stop();
    });
  });
}

describe("runc: the container killed from outside mid-operation", () => {
  test("a running command, a file stream and a watch end with SandboxEndedError, and the engine goes on", async () => {
    const sandbox = await isol8.createSandbox();
    await sandbox.commands.run("head -c 50000000 /dev/urandom > /sandbox/big");
    const stream = await sandbox.files.read("/sandbox/big", { format: "stream" });
    const reader = stream.getReader();
    await reader.read();
    const watchExits: unknown[] = [];
    await sandbox.files.watchDir("/sandbox", () => undefined, {
      onExit: (reason) => watchExits.push(reason),
    });
    const running = sandbox.commands.run(["sleep", "300"]);
    const id = containerId(sandbox);
    await docker.getContainer(id).kill();

    const result = await running;
    assert.deepEqual([result.exitCode, result.signal], [137, "SIGKILL"]);
    await assert.rejects(
      (async () => {
        for (;;) if ((await reader.read()).done) break;
      })(),
      SandboxEndedError,
    );
    assert.ok(await eventually(() => watchExits.length === 1));
    assert.equal((await sandbox.getInfo()).endReason, "its container stopped");
    await assert.rejects(sandbox.commands.run("true"), SandboxEndedError);
    await assert.rejects(sandbox.files.read("/sandbox/big"), SandboxEndedError);
    assert.ok(await eventually(async () => !(await containerExists(id))));
    await using next = await isol8.createSandbox();
    await assertServes(next);
  });
});
