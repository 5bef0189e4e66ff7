// `isol8 shell` in a real terminal (tmux): raw keystrokes, the terminal's
// size and its changes, Ctrl-C reaching the sandbox, the remote exit code as
// its own, and no sandbox left behind - locally and through a server.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { CLI, cleanEnv } from "../support/cli.js";
import { containerExists } from "../support/containers.js";
import { MASTER, startServer } from "../support/server.js";
import { openTerminal, type TmuxTerminal } from "../support/tmux.js";

const terminals: TmuxTerminal[] = [];
after(() => {
  for (const terminal of terminals) terminal.close();
});

function shell(...args: string[]): TmuxTerminal {
  const terminal = openTerminal(["node", CLI, "shell", ...args], cleanEnv());
  terminals.push(terminal);
  return terminal;
}

/** The short container id in bash's prompt (`sandbox@<id>:~$`). */
function containerOf(screen: string): string {
  const id = /sandbox@([0-9a-f]{12})/.exec(screen)?.[1];
  assert.ok(id, screen);
  return id;
}

/** Size, resize, Ctrl-C and the exit code, in the shell the terminal runs. */
async function exercise(terminal: TmuxTerminal): Promise<string> {
  const prompt = await terminal.waitFor(/sandbox@[0-9a-f]{12}:~\$ ?$/m);
  terminal.keys("stty size", "Enter");
  await terminal.waitFor(/^30 100$/m);
  terminal.resize(120, 40);
  terminal.keys("stty size", "Enter");
  await terminal.waitFor(/^40 120$/m);
  // Ctrl-C stops the foreground program, and the shell takes the next line.
  terminal.keys("sleep 300", "Enter");
  await terminal.waitFor(/sleep 300\n/);
  terminal.keys("C-c");
  terminal.keys("echo after-$((6*7))", "Enter");
  await terminal.waitFor(/^after-42$/m);
  terminal.keys("exit 7", "Enter");
  assert.equal(await terminal.exitCode(), 7);
  return containerOf(prompt);
}

describe("isol8 shell", () => {
  test("on this machine: a terminal of this size that follows resizes, Ctrl-C, exit code 7, nothing left", async () => {
    const container = await exercise(shell());
    assert.equal(await containerExists(container), false);
  });

  test("through a server (--host): the same, and the sandbox it made is gone", async () => {
    const srv = await startServer();
    const container = await exercise(shell("--host", srv.url, "--key", MASTER));
    assert.equal(await containerExists(container), false);
  });

  test("--config: the engine's defaults come from the named file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "isol8-shell-config-"));
    const file = join(dir, "limits.json");
    writeFileSync(file, JSON.stringify({ defaults: { memoryLimit: "256m" } }));
    const terminal = shell(
      "--config",
      file,
      "--cmd",
      "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null; exit 5",
    );
    assert.equal(await terminal.exitCode(), 5);
    assert.match(terminal.screen(), /^268435456$/m);
  });

  test("--sandbox attaches to a server's running sandbox and leaves it running", async () => {
    const srv = await startServer();
    const sandbox = await srv.remote().createSandbox();
    await sandbox.commands.run("echo kept > /sandbox/mark");
    const terminal = shell("--host", srv.url, "--key", MASTER, "--sandbox", sandbox.sandboxId);
    await terminal.waitFor(/sandbox@[0-9a-f]{12}:~\$ ?$/m);
    terminal.keys("cat /sandbox/mark; exit 3", "Enter");
    await terminal.waitFor(/^kept$/m);
    assert.equal(await terminal.exitCode(), 3);
    assert.equal(await sandbox.isRunning(), true);
    await sandbox.kill();
  });

  test("refusals: an unknown runtime, --sandbox without --host, an unknown sandbox", async () => {
    const srv = await startServer();
    for (const [args, message] of [
      [["--runtime", "cobol"], /--runtime: "cobol" is not one of/],
      [["--sandbox", "abc"], /--sandbox needs --host/],
      [["--host", srv.url, "--key", MASTER, "--sandbox", "no-such"], /sandbox "no-such" not found/],
    ] as const) {
      const terminal = shell(...args);
      assert.notEqual(await terminal.exitCode(), 0);
      assert.match(terminal.screen(), message);
    }
  });
});
