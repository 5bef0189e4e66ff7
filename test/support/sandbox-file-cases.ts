// A long-lived sandbox's files (`sandbox.files`, served by sandbox/files.c)
// must behave the same under every OCI runtime: one list of cases, run by
// sandbox-files-runc.test.ts and sandbox-files-runsc.test.ts. runc's kernel
// resolves paths with openat2; gVisor of 2022 has none, so there the
// supervisor's component-by-component walk meets the same attacks.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import { InvalidOptionError } from "../../src/engine/errors.js";
import { SandboxFileError } from "../../src/engine/session-files.js";
import {
  SandboxEndedError,
  SandboxFileNotFoundError,
  SandboxFileRefusedError,
} from "../../src/sandbox/errors.js";
import type { Sandbox } from "../../src/sandbox/sandbox.js";
import type { FilesystemEvent } from "../../src/sandbox/types.js";
import type { OciRuntime } from "./conformance.js";
import { engine } from "./engine.js";
import { eventually } from "./eventually.js";
import { SANDBOX_ENGINE } from "./sandbox-cases.js";

const MB = 1024 * 1024;

/**
 * Runs a shell line in the sandbox and returns its stdout; fails the test
 * on a non-zero exit. (Lines use `find -printf`, not `stat` or `ls`:
 * gVisor of 2022 refuses the statx() calls of Debian's coreutils.)
 */
async function sh(sandbox: Sandbox, line: string): Promise<string> {
  const result = await sandbox.commands.run(line);
  assert.equal(result.exitCode, 0, `${line}: ${result.stderr}`);
  return result.stdout;
}

/** Asserts the supervisor still serves files: a write and a read of a fresh file. */
async function stillServes(sandbox: Sandbox): Promise<void> {
  const text = `alive ${Math.random()}`;
  await sandbox.files.write("/sandbox/alive.txt", text);
  assert.equal(await sandbox.files.read("/sandbox/alive.txt"), text);
}

const refused = (error: unknown) =>
  error instanceof SandboxFileRefusedError && error.code === "FILE_REFUSED";

/** `count` bytes of a fixed pseudo-random pattern, as chunks of `chunk` bytes. */
async function* pattern(count: number, chunk: number): AsyncGenerator<Uint8Array> {
  const block = createHash("sha512");
  let seed = Buffer.from(block.update("isol8").digest());
  const base = Buffer.alloc(chunk);
  for (let offset = 0; offset < chunk; offset += seed.length) {
    seed.copy(base, offset);
    seed = createHash("sha512").update(seed).digest();
  }
  for (let sent = 0; sent < count; sent += chunk) {
    const piece = Buffer.from(base.subarray(0, Math.min(chunk, count - sent)));
    piece.writeUInt32BE(sent / chunk, 0); // every chunk differs, so a lost or repeated one shows
    yield piece;
  }
}

/** Registers every file case for `runtime`. */
export function sandboxFileCases(runtime: OciRuntime): void {
  const isol8 = engine({ ...runtime.options, ...SANDBOX_ENGINE });

  describe(`${runtime.name}: sandbox files`, () => {
    test("write and read back as text, bytes and a stream; the file is the sandbox user's, its folders made", async () => {
      await using sandbox = await isol8.createSandbox();
      const entry = await sandbox.files.write("/sandbox/deep/er/hello.txt", "héllo\n");
      assert.deepEqual(
        { ...entry, modifiedTime: undefined },
        {
          name: "hello.txt",
          path: "/sandbox/deep/er/hello.txt",
          type: "file",
          size: 7,
          mode: 0o644,
          permissions: "-rw-r--r--",
          modifiedTime: undefined,
        },
      );
      assert.ok(Math.abs(entry.modifiedTime.getTime() - Date.now()) < 60_000);
      assert.equal(await sandbox.files.read("/sandbox/deep/er/hello.txt"), "héllo\n");
      assert.equal(
        await sandbox.files.read("deep/er/hello.txt"),
        "héllo\n",
        "relative to /sandbox",
      );
      const bytes = await sandbox.files.read("/sandbox/deep/er/hello.txt", { format: "bytes" });
      assert.ok(bytes instanceof Uint8Array);
      assert.deepEqual(Buffer.from(bytes), Buffer.from("héllo\n"));
      const stream = await sandbox.files.read("/sandbox/deep/er/hello.txt", { format: "stream" });
      const chunks: Uint8Array[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      assert.equal(Buffer.concat(chunks).toString(), "héllo\n");
      assert.equal(
        await sh(
          sandbox,
          "find /sandbox/deep /sandbox/deep/er /sandbox/deep/er/hello.txt -maxdepth 0 -printf '%U:%G %m\\n'",
        ),
        "100:100 755\n100:100 755\n100:100 644\n",
      );

      // Every kind of data, and an empty file; a write replaces what was there.
      await sandbox.files.write("/tmp/u8", new Uint8Array([0, 1, 2, 255]));
      await sandbox.files.write("/tmp/ab", new Uint8Array([9, 8]).buffer);
      await sandbox.files.write("/tmp/web", new Blob(["we", "b"]).stream());
      await sandbox.files.write("/tmp/node", Readable.from([Buffer.from("no"), "de"]));
      await sandbox.files.write("/tmp/u8-again", "longer text first");
      await sandbox.files.write("/tmp/u8-again", "short");
      await sandbox.files.write("/tmp/empty", "");
      assert.equal(
        await sh(sandbox, "od -An -tu1 /tmp/u8 /tmp/ab | tr -s ' '"),
        " 0 1 2 255 9 8\n",
      );
      assert.equal(
        await sh(sandbox, "cat /tmp/web /tmp/node; echo; cat /tmp/u8-again"),
        "webnode\nshort",
      );
      assert.equal(await sandbox.files.read("/tmp/empty"), "");
      const emptyStream = await sandbox.files.read("/tmp/empty", { format: "stream" });
      assert.equal((await emptyStream.getReader().read()).done, true);
    });

    test("getInfo, exists, makeDir, rename and remove", async () => {
      await using sandbox = await isol8.createSandbox();
      await sh(
        sandbox,
        "mkdir -p /sandbox/d && echo x > /sandbox/d/f && ln -s d/f /sandbox/link && chmod 4750 /sandbox/d/f",
      );
      const info = await sandbox.files.getInfo("/sandbox/d/f");
      assert.deepEqual(
        [info.type, info.size, info.mode, info.permissions],
        ["file", 2, 0o4750, "-rwsr-x---"],
      );
      const dir = await sandbox.files.getInfo("/sandbox/d");
      assert.deepEqual([dir.name, dir.type, dir.permissions], ["d", "dir", "drwxr-xr-x"]);
      const link = await sandbox.files.getInfo("/sandbox/link");
      assert.deepEqual(
        [link.type, link.symlinkTarget, link.permissions[0]],
        ["symlink", "d/f", "l"],
      );
      assert.equal((await sandbox.files.getInfo("/sandbox")).type, "dir");
      assert.equal((await sandbox.files.getInfo("/tmp")).name, "tmp");

      assert.equal(await sandbox.files.exists("/sandbox/d/f"), true);
      assert.equal(await sandbox.files.exists("/sandbox/nope"), false);
      assert.equal(await sandbox.files.exists("/sandbox/d/f/under-a-file"), false);
      await sh(sandbox, "ln -s missing /sandbox/dangling");
      assert.equal(
        await sandbox.files.exists("/sandbox/dangling"),
        true,
        "a dangling symlink is there",
      );

      assert.equal(await sandbox.files.makeDir("/sandbox/m/n/o"), true);
      assert.equal(await sandbox.files.makeDir("/sandbox/m/n/o"), false);
      assert.equal(await sandbox.files.makeDir("/sandbox/m"), false);
      assert.equal(
        await sh(sandbox, "find /sandbox/m/n/o -maxdepth 0 -printf '%U %m %y'"),
        "100 755 d",
      );
      await assert.rejects(sandbox.files.makeDir("/sandbox/d/f"), SandboxFileError);

      const moved = await sandbox.files.rename("/sandbox/d", "/sandbox/m/d2");
      assert.deepEqual([moved.path, moved.name, moved.type], ["/sandbox/m/d2", "d2", "dir"]);
      assert.equal(await sandbox.files.read("/sandbox/m/d2/f"), "x\n");
      assert.equal(await sandbox.files.exists("/sandbox/d"), false);
      await assert.rejects(sandbox.files.rename("/sandbox/m/d2/f", "/tmp/f"), SandboxFileError);
      await assert.rejects(
        sandbox.files.rename("/sandbox/gone", "/sandbox/x"),
        SandboxFileNotFoundError,
      );

      await sh(
        sandbox,
        "mkdir -p /sandbox/tree/a/b/c && touch /sandbox/tree/a/b/c/f /sandbox/tree/x && ln -s /sandbox/m /sandbox/tree/a/out",
      );
      await sandbox.files.remove("/sandbox/tree");
      assert.equal(await sandbox.files.exists("/sandbox/tree"), false);
      assert.equal(
        await sandbox.files.read("/sandbox/m/d2/f"),
        "x\n",
        "a symlink in a removed tree is not followed",
      );
      await sandbox.files.remove("/sandbox/link");
      assert.equal(
        await sandbox.files.read("/sandbox/m/d2/f"),
        "x\n",
        "removing a symlink leaves its target",
      );
      await assert.rejects(sandbox.files.remove("/sandbox/link"), SandboxFileNotFoundError);
      await assert.rejects(sandbox.files.remove("/sandbox"), refused);
      await assert.rejects(sandbox.files.rename("/tmp", "/tmp/x"), refused);

      // A missing path: one error class and code, whatever the operation.
      for (const attempt of [
        () => sandbox.files.read("/sandbox/none"),
        () => sandbox.files.getInfo("/sandbox/none"),
        () => sandbox.files.list("/sandbox/none"),
        () => sandbox.files.watchDir("/sandbox/none", () => undefined),
      ])
        await assert.rejects(
          attempt(),
          (error: unknown) =>
            error instanceof SandboxFileNotFoundError &&
            error.code === "FILE_NOT_FOUND" &&
            error.message.includes("/sandbox/none"),
        );
    });

    test("list: a folder's entries, and depth levels of folders below", async () => {
      await using sandbox = await isol8.createSandbox();
      await sh(
        sandbox,
        "mkdir -p /sandbox/l/a/b/c && echo 123 > /sandbox/l/top.txt && touch /sandbox/l/a/in-a /sandbox/l/a/b/in-b /sandbox/l/a/b/c/in-c && ln -s a /sandbox/l/to-a",
      );
      const listed = async (depth?: number) =>
        (await sandbox.files.list("/sandbox/l", depth === undefined ? {} : { depth }))
          .map(
            (e) =>
              `${e.path} ${e.name} ${e.type}${e.symlinkTarget ? ` -> ${e.symlinkTarget}` : ""}`,
          )
          .sort();
      assert.deepEqual(await listed(), [
        "/sandbox/l/a a dir",
        "/sandbox/l/to-a to-a symlink -> a",
        "/sandbox/l/top.txt top.txt file",
      ]);
      assert.deepEqual(await listed(2), [
        "/sandbox/l/a a dir",
        "/sandbox/l/a/b b dir",
        "/sandbox/l/a/in-a in-a file",
        "/sandbox/l/to-a to-a symlink -> a",
        "/sandbox/l/top.txt top.txt file",
      ]);
      assert.equal((await listed(4)).length, 8, "a symlinked folder is listed, not entered");
      const top = (await sandbox.files.list("/sandbox/l")).find((e) => e.name === "top.txt");
      assert.equal(top?.size, 4);
      assert.deepEqual(
        (await sandbox.files.list("/sandbox/l/to-a")).map((e) => e.name).sort(),
        ["b", "in-a"],
        "the listed folder itself may be a symlink inside",
      );
      await assert.rejects(sandbox.files.list("/sandbox/l/top.txt"), /ENOTDIR/);

      // Many entries come in several chunks.
      await sh(
        sandbox,
        "mkdir /sandbox/many && cd /sandbox/many && for i in $(seq 3000); do : > file-with-a-longish-name-$i; done",
      );
      const many = await sandbox.files.list("/sandbox/many");
      assert.equal(new Set(many.map((e) => e.name)).size, 3000);

      for (const depth of [0, 65, 1.5, "2"])
        await assert.rejects(
          sandbox.files.list("/sandbox/l", { depth: depth as number }),
          (error: unknown) => error instanceof InvalidOptionError && /^depth: /.test(error.message),
        );
    });

    test("100 MB written from a stream and read back as one, compared by hash", async () => {
      await using sandbox = await isol8.createSandbox();
      const size = 100 * MB;
      const sent = createHash("sha256");
      async function* hashed() {
        for await (const piece of pattern(size, 1024 * 1024 + 17)) {
          sent.update(piece);
          yield piece;
        }
      }
      const entry = await sandbox.files.write("/sandbox/big.bin", hashed());
      assert.equal(entry.size, size);
      const expected = sent.digest("hex");
      assert.equal((await sh(sandbox, "sha256sum /sandbox/big.bin")).split(" ")[0], expected);
      const received = createHash("sha256");
      let bytes = 0;
      for await (const chunk of await sandbox.files.read("/sandbox/big.bin", {
        format: "stream",
      })) {
        assert.ok(chunk.length <= 64 * 1024);
        received.update(chunk);
        bytes += chunk.length;
      }
      assert.equal(bytes, size);
      assert.equal(received.digest("hex"), expected);
    });

    test("a slow reader holds the sandbox back; a cancelled read and a failed write stop cleanly", async () => {
      await using sandbox = await isol8.createSandbox();
      await sh(sandbox, "head -c 20000000 /dev/zero > /sandbox/z");
      const stream = await sandbox.files.read("/sandbox/z", { format: "stream" });
      const reader = stream.getReader();
      assert.equal((await reader.read()).done, false);
      // Meanwhile a terminal-sized exchange still goes through.
      assert.equal(await sh(sandbox, "echo keystroke"), "keystroke\n");
      await reader.cancel();
      await stillServes(sandbox);

      async function* failing() {
        yield Buffer.from("first part;");
        throw new Error("the source broke");
      }
      await assert.rejects(sandbox.files.write("/sandbox/partial", failing()), /the source broke/);
      await stillServes(sandbox);
      await assert.rejects(
        sandbox.files.write("/sandbox/bad", [42] as unknown as AsyncIterable<Uint8Array>),
        (error: unknown) => error instanceof InvalidOptionError && /^data: /.test(error.message),
      );
      await assert.rejects(
        sandbox.files.read("/sandbox/z", { format: "xml" as "text" }),
        (error: unknown) => error instanceof InvalidOptionError && /^format: /.test(error.message),
      );
      await assert.rejects(
        sandbox.files.read(42 as unknown as string),
        (error: unknown) => error instanceof InvalidOptionError && /^path: /.test(error.message),
      );
      await stillServes(sandbox);
    });

    test("watchDir: events in order; a recursive watch sees a folder made after it began", async () => {
      await using sandbox = await isol8.createSandbox();
      await sh(sandbox, "mkdir -p /sandbox/w/old && echo 1 > /sandbox/w/keep");
      const events: FilesystemEvent[] = [];
      const flat: FilesystemEvent[] = [];
      const handle = await sandbox.files.watchDir("/sandbox/w", (e) => events.push(e), {
        recursive: true,
      });
      const flatHandle = await sandbox.files.watchDir("/sandbox/w", (e) => flat.push(e));

      await sandbox.files.write("/sandbox/w/a.txt", "a");
      await sh(
        sandbox,
        "chmod 600 /sandbox/w/a.txt && mv /sandbox/w/a.txt /sandbox/w/b.txt && rm /sandbox/w/b.txt",
      );
      await sh(
        sandbox,
        "mkdir -p /sandbox/w/new/deeper && echo x > /sandbox/w/new/deeper/file && echo y > /sandbox/w/old/o",
      );
      await sh(sandbox, "sleep 0.2; echo z > /sandbox/w/new/later");
      const has = (list: FilesystemEvent[], type: string, name: string) =>
        list.some((e) => e.type === type && e.name === name);
      assert.ok(
        await eventually(
          () => has(events, "create", "new/later") && has(events, "create", "old/o"),
        ),
        JSON.stringify(events),
      );
      const aEvents = events.filter((e) => e.name === "a.txt" || e.name === "b.txt");
      const firstOf = (type: string, name: string) =>
        aEvents.findIndex((e) => e.type === type && e.name === name);
      const order = [
        firstOf("create", "a.txt"),
        firstOf("write", "a.txt"),
        firstOf("chmod", "a.txt"),
        firstOf("rename", "a.txt"),
        firstOf("create", "b.txt"),
        firstOf("remove", "b.txt"),
      ];
      assert.ok(
        order.every((index) => index >= 0),
        JSON.stringify(aEvents),
      );
      assert.deepEqual(
        [...order].sort((x, y) => x - y),
        order,
        JSON.stringify(aEvents),
      );
      assert.ok(has(events, "create", "new"));
      assert.ok(has(events, "create", "new/deeper/file"), JSON.stringify(events));
      assert.ok(has(events, "write", "new/later"));

      assert.ok(has(flat, "create", "new"));
      assert.ok(!flat.some((e) => e.name.includes("/")), "a flat watch hears only its own folder");

      await handle.stop();
      await flatHandle.stop();
      const heard = events.length;
      await sh(sandbox, "touch /sandbox/w/after-stop && sleep 0.2");
      await sandbox.files.write("/sandbox/w/after-stop2", "x");
      assert.equal(events.length, heard, "nothing is heard after stop()");

      // The watched folder removed: the watch ends and says why.
      await sh(sandbox, "mkdir /sandbox/gone");
      let exitError: Error | undefined;
      await sandbox.files.watchDir("/sandbox/gone", () => undefined, {
        onExit: (error) => {
          exitError = error;
        },
      });
      await sh(sandbox, "rmdir /sandbox/gone");
      assert.ok(await eventually(() => exitError !== undefined));
      assert.ok(exitError instanceof SandboxFileNotFoundError, String(exitError));

      // A watch lives until the sandbox ends, and then says so.
      let ended: Error | undefined;
      await sandbox.files.watchDir("/sandbox", () => undefined, {
        onExit: (error) => {
          ended = error;
        },
      });
      const pending = sandbox.files.read("/sandbox/w/keep", { format: "stream" });
      await pending;
      await sandbox.kill();
      assert.ok(ended instanceof SandboxEndedError, String(ended));
      await assert.rejects(sandbox.files.read("/sandbox/w/keep"), SandboxEndedError);
    });

    test("adversarial: paths outside, .., /proc and /dev are refused, naming the path", async () => {
      await using sandbox = await isol8.createSandbox();
      for (const path of [
        "/etc/passwd",
        "/sandbox/../etc/passwd",
        "../etc/passwd",
        "/tmp/../../etc/shadow",
        "/proc/self/environ",
        "/proc/1/root/etc/passwd",
        "/dev/zero",
        "/dev/null",
        "/sandboxes/x",
        "/",
      ]) {
        await assert.rejects(
          sandbox.files.read(path),
          (error: unknown) => refused(error) && (error as Error).message.startsWith(`${path}: `),
          path,
        );
        await assert.rejects(sandbox.files.write(path, "x"), refused, path);
        await assert.rejects(sandbox.files.list(path), refused, path);
      }
      await stillServes(sandbox);
    });

    test("adversarial: symlinks to /etc/passwd and to / inside /sandbox lead nowhere", async () => {
      await using sandbox = await isol8.createSandbox();
      await sh(
        sandbox,
        "cd /sandbox && ln -s /etc/passwd pw && ln -s ../etc/passwd pw-rel && ln -s / root && ln -s ../.. up && mkdir sub && ln -s ../../tmp sub/to-tmp && ln -s /tmp abs-tmp && ln -s /sandbox/sub abs-inside",
      );
      const attempts: [string, () => Promise<unknown>][] = [
        ["read pw", () => sandbox.files.read("/sandbox/pw")],
        ["read pw-rel", () => sandbox.files.read("/sandbox/pw-rel")],
        ["read root/etc/passwd", () => sandbox.files.read("/sandbox/root/etc/passwd")],
        ["read up/etc/passwd", () => sandbox.files.read("/sandbox/up/etc/passwd")],
        ["list root", () => sandbox.files.list("/sandbox/root")],
        ["list root/etc", () => sandbox.files.list("/sandbox/root/etc")],
        ["write root/tmp/x", () => sandbox.files.write("/sandbox/root/tmp/escaped", "x")],
        ["write pw", () => sandbox.files.write("/sandbox/pw", "x")],
        ["makeDir root/tmp/x", () => sandbox.files.makeDir("/sandbox/root/tmp/escaped-dir")],
        ["makeDir via sub/to-tmp", () => sandbox.files.makeDir("/sandbox/sub/to-tmp/escaped-dir")],
        ["write via abs-tmp", () => sandbox.files.write("/sandbox/abs-tmp/escaped", "x")],
        ["remove root/tmp", () => sandbox.files.remove("/sandbox/root/tmp/anything")],
        ["rename out", () => sandbox.files.rename("/sandbox/sub", "/sandbox/root/tmp/sub")],
        ["stat root/etc/passwd", () => sandbox.files.getInfo("/sandbox/root/etc/passwd")],
        ["watch root", () => sandbox.files.watchDir("/sandbox/root", () => undefined)],
        ["read absolute link inside", () => sandbox.files.list("/sandbox/abs-inside")],
      ];
      for (const [what, attempt] of attempts) {
        await assert.rejects(attempt(), refused, what);
        await stillServes(sandbox);
      }
      assert.equal(
        await sh(sandbox, "find /tmp -mindepth 1"),
        "",
        "nothing reached /tmp through a link",
      );
      const everything = await sandbox.files.list("/sandbox", { depth: 4 });
      assert.deepEqual(
        everything.filter((e) => e.path.startsWith("/sandbox/root")).map((e) => [e.path, e.type]),
        [["/sandbox/root", "symlink"]],
        "a listing reports a link to / and never enters it",
      );
      // The links themselves are reported as links, and removing one leaves its target.
      assert.equal((await sandbox.files.getInfo("/sandbox/pw")).symlinkTarget, "/etc/passwd");
      await sandbox.files.remove("/sandbox/root");
      assert.equal(await sh(sandbox, "test -d /etc && echo kept"), "kept\n");
    });

    test("adversarial: a symlink swapped back and forth by a background loop never leads a read or write out", async () => {
      await using sandbox = await isol8.createSandbox();
      await sh(
        sandbox,
        "mkdir -p /sandbox/race/inside /tmp/outside && echo inside > /sandbox/race/inside/passwd && echo untouched > /tmp/outside/target",
      );
      const swapper = await sandbox.commands.run(
        "cd /sandbox/race; while :; do ln -sfn inside d; ln -sfn /etc d; ln -sfn inside d; ln -sfn ../../tmp/outside d; done",
        { background: true },
      );
      let insideReads = 0;
      let refusals = 0;
      for (let i = 0; i < 300; i++) {
        try {
          const text = await sandbox.files.read("/sandbox/race/d/passwd");
          assert.equal(text, "inside\n", "only the file inside is ever read");
          insideReads++;
        } catch (error) {
          if (error instanceof SandboxFileNotFoundError) continue; // the link was being replaced
          assert.ok(refused(error), String(error));
          refusals++;
        }
        try {
          await sandbox.files.write("/sandbox/race/d/target", `write ${i}`);
        } catch (error) {
          assert.ok(error instanceof SandboxFileError, String(error));
        }
      }
      await swapper.kill();
      assert.ok(insideReads + refusals > 0);
      assert.equal(await sh(sandbox, "cat /tmp/outside/target"), "untouched\n");
      assert.equal(await sh(sandbox, "find /tmp/outside -mindepth 1 -printf '%f\\n'"), "target\n");
      await stillServes(sandbox);
    });

    test("adversarial: a FIFO, a socket and a folder are refused for reading and writing, without a hang", async () => {
      await using sandbox = await isol8.createSandbox();
      await sh(
        sandbox,
        "mkfifo /sandbox/fifo && python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); s.bind('/sandbox/sock')\" && ln -s fifo /sandbox/to-fifo",
      );
      for (const path of ["/sandbox/fifo", "/sandbox/to-fifo", "/sandbox/sock"]) {
        await assert.rejects(sandbox.files.read(path), refused, path);
        await assert.rejects(sandbox.files.write(path, "x"), refused, path);
        await stillServes(sandbox);
      }
      // A FIFO with a reader waiting: still refused, and the reader gets nothing.
      const reader = await sandbox.commands.run("cat /sandbox/fifo", { background: true });
      await assert.rejects(sandbox.files.write("/sandbox/fifo", "x"), refused);
      await reader.kill();
      assert.equal((await sandbox.files.getInfo("/sandbox/fifo")).type, "fifo");
      assert.equal((await sandbox.files.getInfo("/sandbox/sock")).type, "socket");
      await assert.rejects(sandbox.files.read("/sandbox"), /EISDIR/);
      await stillServes(sandbox);
    });
  });
}
