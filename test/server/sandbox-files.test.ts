// A long-lived sandbox's files through a real server (/sandboxes/:id/files...)
// and RemoteIsol8: every operation with the local one's results and
// refusals (the same error classes), large files streamed both ways, a
// watch's events, another tenant kept out, and an upload past the server's
// file limit refused with 413 while the server stays healthy.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import { RemoteError } from "../../src/client/remote-error.js";
import type { RemoteSandbox } from "../../src/client/remote-sandbox.js";
import { InvalidOptionError } from "../../src/engine/errors.js";
import { SandboxFileError } from "../../src/engine/session-files.js";
import {
  SandboxEndedError,
  SandboxFileNotFoundError,
  SandboxFileRefusedError,
} from "../../src/sandbox/errors.js";
import type { FilesystemEvent } from "../../src/sandbox/types.js";
import { eventually } from "../support/eventually.js";
import { startServer } from "../support/server.js";

const MB = 1024 * 1024;
/** The upload limit of the second server, whose uploads past it are refused. */
const SMALL_LIMIT = MB;

const srv = await startServer();
const remote = srv.remote();
const small = await startServer({ sandboxes: { maxFileBytes: SMALL_LIMIT } });

/** Runs a shell line in the sandbox and returns its stdout; fails the test on a non-zero exit. */
async function sh(sandbox: RemoteSandbox, line: string): Promise<string> {
  const result = await sandbox.commands.run(line);
  assert.equal(result.exitCode, 0, `${line}: ${result.stderr}`);
  return result.stdout;
}

/** `count` bytes, as chunks of `chunk` bytes, each chunk different (a lost or repeated one shows). */
async function* pattern(count: number, chunk: number): AsyncGenerator<Uint8Array> {
  const base = Buffer.alloc(chunk, "isol8 files over http ");
  for (let sent = 0; sent < count; sent += chunk) {
    const piece = Buffer.from(base.subarray(0, Math.min(chunk, count - sent)));
    piece.writeUInt32BE(sent / chunk, 0);
    yield piece;
  }
}

const refused = (error: unknown) =>
  error instanceof SandboxFileRefusedError && error.code === "FILE_REFUSED";

describe("a sandbox's files through RemoteIsol8", () => {
  test("write every kind of data, read it back as text, bytes and a stream", async () => {
    await using sandbox = await remote.createSandbox();
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
    assert.ok(entry.modifiedTime instanceof Date);
    assert.ok(Math.abs(entry.modifiedTime.getTime() - Date.now()) < 60_000);
    assert.equal(await sandbox.files.read("deep/er/hello.txt"), "héllo\n");
    const bytes = await sandbox.files.read("/sandbox/deep/er/hello.txt", { format: "bytes" });
    assert.ok(bytes instanceof Uint8Array);
    assert.deepEqual(Buffer.from(bytes), Buffer.from("héllo\n"));
    const stream = await sandbox.files.read("/sandbox/deep/er/hello.txt", { format: "stream" });
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(Buffer.concat(chunks).toString(), "héllo\n");

    await sandbox.files.write("/tmp/u8", new Uint8Array([0, 1, 2, 255]));
    await sandbox.files.write("/tmp/ab", new Uint8Array([9, 8]).buffer);
    await sandbox.files.write("/tmp/web", new Blob(["we", "b"]).stream());
    await sandbox.files.write("/tmp/node", Readable.from([Buffer.from("no"), "de"]));
    await sandbox.files.write("/tmp/again", "longer text first");
    await sandbox.files.write("/tmp/again", "short");
    await sandbox.files.write("/tmp/empty", "");
    assert.equal(await sh(sandbox, "od -An -tu1 /tmp/u8 /tmp/ab | tr -s ' '"), " 0 1 2 255 9 8\n");
    assert.equal(
      await sh(sandbox, "cat /tmp/web /tmp/node; echo; cat /tmp/again"),
      "webnode\nshort",
    );
    assert.equal(await sh(sandbox, "stat -c '%u %s' /tmp/empty"), "100 0\n");
    assert.equal(await sandbox.files.read("/tmp/empty"), "");
    const empty = await sandbox.files.read("/tmp/empty", { format: "stream" });
    assert.equal((await empty.getReader().read()).done, true);
  });

  test("list with depth, getInfo, exists, makeDir, rename and remove", async () => {
    await using sandbox = await remote.createSandbox();
    await sh(sandbox, "mkdir -p /sandbox/d/e && echo x > /sandbox/d/f && ln -s d/f /sandbox/link");
    const info = await sandbox.files.getInfo("/sandbox/d/f");
    assert.deepEqual([info.type, info.size, info.permissions], ["file", 2, "-rw-r--r--"]);
    const link = await sandbox.files.getInfo("/sandbox/link");
    assert.deepEqual([link.type, link.symlinkTarget], ["symlink", "d/f"]);
    const names = (entries: { path: string }[]) => entries.map((e) => e.path).sort();
    assert.deepEqual(names(await sandbox.files.list("/sandbox/d")), [
      "/sandbox/d/e",
      "/sandbox/d/f",
    ]);
    await sandbox.files.write("/sandbox/d/e/g", "g");
    assert.deepEqual(names(await sandbox.files.list("/sandbox", { depth: 3 })), [
      "/sandbox/d",
      "/sandbox/d/e",
      "/sandbox/d/e/g",
      "/sandbox/d/f",
      "/sandbox/link",
    ]);
    assert.ok((await sandbox.files.list("/sandbox")).every((e) => e.modifiedTime instanceof Date));

    assert.equal(await sandbox.files.exists("/sandbox/d/f"), true);
    assert.equal(await sandbox.files.exists("/sandbox/nothing"), false);
    assert.equal(await sandbox.files.exists("/sandbox/d/f/under-a-file"), false);
    assert.equal(await sandbox.files.makeDir("/sandbox/made/twice"), true);
    assert.equal(await sandbox.files.makeDir("/sandbox/made/twice"), false);
    const moved = await sandbox.files.rename("/sandbox/d/f", "/sandbox/made/f2");
    assert.deepEqual([moved.path, moved.name, moved.type], ["/sandbox/made/f2", "f2", "file"]);
    assert.equal(await sandbox.files.exists("/sandbox/d/f"), false);
    await sandbox.files.remove("/sandbox/made");
    await sandbox.files.remove("/sandbox/link");
    assert.equal(await sh(sandbox, "ls /sandbox; ls /sandbox/d"), "d\ne\n");
  });

  test("100 MB written from a stream and read back by stream, compared by hash", async () => {
    await using sandbox = await remote.createSandbox();
    const size = 100 * MB;
    const sent = createHash("sha256");
    const source = async function* () {
      for await (const piece of pattern(size, 256 * 1024)) {
        sent.update(piece);
        yield piece;
      }
    };
    const entry = await sandbox.files.write("/sandbox/big.bin", source());
    assert.equal(entry.size, size);
    const digest = sent.digest("hex");
    assert.equal((await sh(sandbox, "sha256sum /sandbox/big.bin")).split(" ")[0], digest);
    const got = createHash("sha256");
    let count = 0;
    for await (const chunk of await sandbox.files.read("/sandbox/big.bin", { format: "stream" })) {
      got.update(chunk);
      count += chunk.length;
    }
    assert.equal(count, size);
    assert.equal(got.digest("hex"), digest);
  });

  test("a watch sees a process's changes and files.write's, in order; stop ends it", async () => {
    await using sandbox = await remote.createSandbox();
    await sandbox.files.makeDir("/sandbox/w");
    const events: FilesystemEvent[] = [];
    const exits: Error[] = [];
    const watch = await sandbox.files.watchDir("/sandbox/w", (event) => events.push(event), {
      recursive: true,
      onExit: (error) => exits.push(error),
    });
    await sh(sandbox, "mkdir /sandbox/w/sub && echo hi > /sandbox/w/sub/a.txt");
    await sandbox.files.write("/sandbox/w/b.txt", "b");
    await sandbox.files.remove("/sandbox/w/b.txt");
    const seen = () => events.map((e) => `${e.type} ${e.name}`);
    assert.ok(await eventually(() => seen().includes("remove b.txt")), JSON.stringify(events));
    // A file made in a folder as the folder's watch begins is reported as created (its
    // write may come before the watch), so only the top folder's changes are in a fixed order.
    for (const expected of ["create sub", "create sub/a.txt", "create b.txt", "write b.txt"])
      assert.ok(seen().includes(expected), `${expected} in ${seen().join(", ")}`);
    const at = (change: string) => seen().indexOf(change);
    assert.ok(at("create b.txt") < at("write b.txt") && at("write b.txt") < at("remove b.txt"));
    await watch.stop();
    const before = events.length;
    await sandbox.files.write("/sandbox/w/after.txt", "x");
    await sh(sandbox, "sleep 0.5");
    assert.equal(events.length, before, "no event after stop()");
    assert.deepEqual(exits, []);
  });

  test("a watch that ends (its folder removed, its sandbox killed) calls onExit with why", async () => {
    await using sandbox = await remote.createSandbox();
    await sandbox.files.makeDir("/sandbox/gone");
    const exits: Error[] = [];
    await sandbox.files.watchDir("/sandbox/gone", () => undefined, {
      onExit: (error) => exits.push(error),
    });
    await sandbox.files.remove("/sandbox/gone");
    assert.ok(await eventually(() => exits.length === 1));
    assert.ok(exits[0] instanceof SandboxFileError, String(exits[0]));

    const ended: Error[] = [];
    await sandbox.files.watchDir("/sandbox", () => undefined, {
      onExit: (error) => ended.push(error),
    });
    await sandbox.kill();
    assert.ok(await eventually(() => ended.length === 1));
    assert.ok(ended[0] instanceof SandboxEndedError, String(ended[0]));
    await assert.rejects(sandbox.files.read("/sandbox/x"), SandboxEndedError);
  });

  test("a callback that throws ends the watch with its error", async () => {
    await using sandbox = await remote.createSandbox();
    const exits: Error[] = [];
    const boom = new Error("boom");
    await sandbox.files.watchDir(
      "/tmp",
      () => {
        throw boom;
      },
      { onExit: (error) => exits.push(error) },
    );
    await sandbox.files.write("/tmp/one", "1");
    assert.ok(await eventually(() => exits.length === 1));
    assert.equal(exits[0], boom);
  });
});

describe("refusals read as they do locally", () => {
  test("escapes, special files, missing paths and bad options: the library's classes", async () => {
    await using sandbox = await remote.createSandbox();
    await assert.rejects(sandbox.files.read("../etc/passwd"), refused);
    await assert.rejects(sandbox.files.read("/etc/passwd"), refused);
    await assert.rejects(sandbox.files.write("/etc/passwd", "x"), refused);
    await assert.rejects(sandbox.files.write("/sandbox/../etc/x", "x"), refused);
    await sh(
      sandbox,
      "ln -s /etc /sandbox/etc-link && ln -s ../../etc/passwd /sandbox/rel && mkfifo /sandbox/fifo",
    );
    await assert.rejects(sandbox.files.read("/sandbox/etc-link/passwd"), refused);
    await assert.rejects(sandbox.files.read("/sandbox/rel"), refused);
    await assert.rejects(sandbox.files.read("/sandbox/fifo"), refused);
    await assert.rejects(sandbox.files.write("/sandbox/fifo", "x"), refused);
    await assert.rejects(sandbox.files.remove("/sandbox"), refused);
    await assert.rejects(sandbox.files.rename("/tmp", "/tmp2"), refused);
    await assert.rejects(sandbox.files.read("/sandbox/missing"), (error: unknown) => {
      assert.ok(error instanceof SandboxFileNotFoundError, String(error));
      assert.equal(error.path, "/sandbox/missing");
      return true;
    });
    await assert.rejects(sandbox.files.getInfo("/sandbox/missing"), SandboxFileNotFoundError);
    await assert.rejects(
      sandbox.files.watchDir("/sandbox/missing", () => undefined),
      SandboxFileNotFoundError,
    );
    await assert.rejects(sandbox.files.list("/sandbox", { depth: 65 }), (error: unknown) => {
      assert.ok(error instanceof InvalidOptionError, String(error));
      assert.match(error.message, /^depth: 65 is not a whole number from 1 to 64/);
      return true;
    });
    await assert.rejects(sandbox.files.read("", {}), /path: must be a non-empty string/);
    await assert.rejects(
      sandbox.files.read("/sandbox/x", { format: "json" as "text" }),
      InvalidOptionError,
    );
    await assert.rejects(
      sandbox.files.write("/sandbox/x", 5 as unknown as string),
      /^InvalidOptionError: data: must be/,
    );
    // Nothing the refusals asked for happened.
    assert.equal(await sh(sandbox, "grep -c root /etc/passwd"), "1\n");
    assert.equal(await sandbox.files.exists("/sandbox/x"), false);
  });

  test("another tenant's key gets 404 for every file route, and nothing is written", async () => {
    await using sandbox = await remote.createSandbox();
    await sandbox.files.write("/sandbox/mine.txt", "mine");
    const { key } = await srv.createKey("another-tenant");
    const base = `/sandboxes/${sandbox.sandboxId}/files`;
    for (const [method, path, body] of [
      ["GET", "?path=/sandbox/mine.txt", undefined],
      ["PUT", "?path=/sandbox/theirs.txt", "theirs"],
      ["DELETE", "?path=/sandbox/mine.txt", undefined],
      ["GET", "/list?path=/sandbox", undefined],
      ["GET", "/info?path=/sandbox/mine.txt", undefined],
      ["GET", "/watch?path=/sandbox", undefined],
      ["POST", "/dir", JSON.stringify({ path: "/sandbox/theirs" })],
      ["POST", "/rename", JSON.stringify({ from: "/sandbox/mine.txt", to: "/sandbox/t.txt" })],
    ] as const) {
      const response = await srv.call(`${base}${path}`, { method, key, body });
      assert.equal(response.status, 404, `${method} ${path}`);
      assert.equal(((await response.json()) as { code?: string }).code, "SANDBOX_NOT_FOUND");
    }
    assert.equal(await sh(sandbox, "ls /sandbox"), "mine.txt\n");
  });
});

describe("the app without a socket", () => {
  test("an upload and a read handed to the app itself (app.request) stream as over HTTP", async () => {
    await using sandbox = await remote.createSandbox();
    const file = `/sandboxes/${sandbox.sandboxId}/files?path=/sandbox/in-process.txt`;
    const put = await srv.request(file, {
      method: "PUT",
      headers: { "Content-Type": "application/octet-stream" },
      body: new Blob(["in ", "process"]).stream(),
      duplex: "half",
    } as RequestInit);
    assert.equal(put.status, 200, await put.clone().text());
    assert.equal(((await put.json()) as { size: number }).size, 10);
    const got = await srv.request(file);
    assert.equal(await got.text(), "in process");
  });
});

describe("the server's limit for an upload", () => {
  test("an upload past sandboxes.maxFileBytes gets 413, by its length or as it streams; the server stays healthy", async () => {
    const client = small.remote();
    await using sandbox = await client.createSandbox();
    const limited = (error: unknown) => {
      assert.ok(error instanceof RemoteError, String(error));
      assert.equal(error.status, 413);
      assert.match(error.message, new RegExp(`${SMALL_LIMIT} bytes \\(sandboxes.maxFileBytes\\)`));
      return true;
    };
    // With a Content-Length: refused before any of it is read.
    await assert.rejects(
      sandbox.files.write("/sandbox/known.bin", new Uint8Array(SMALL_LIMIT + 1)),
      limited,
    );
    assert.equal(await sandbox.files.exists("/sandbox/known.bin"), false);
    // Streamed: refused once more than the limit has come; the file holds no more than that.
    await assert.rejects(
      sandbox.files.write("/sandbox/streamed.bin", pattern(8 * SMALL_LIMIT, 64 * 1024)),
      limited,
    );
    assert.ok((await sandbox.files.getInfo("/sandbox/streamed.bin")).size <= SMALL_LIMIT);
    // Handed to the app without a socket, a streamed body is counted as it comes too.
    const inProcess = await small.request(
      `/sandboxes/${sandbox.sandboxId}/files?path=/sandbox/in-process.bin`,
      {
        method: "PUT",
        body: new Blob([new Uint8Array(2 * SMALL_LIMIT)]).stream(),
        duplex: "half",
      } as RequestInit,
    );
    assert.equal(inProcess.status, 413);
    // The limit itself passes, and the server serves files and the rest as before.
    assert.equal(
      (await sandbox.files.write("/sandbox/at.bin", new Uint8Array(SMALL_LIMIT))).size,
      SMALL_LIMIT,
    );
    assert.equal(
      (await sandbox.files.write("/sandbox/s.bin", pattern(SMALL_LIMIT, 4096))).size,
      SMALL_LIMIT,
    );
    assert.equal(await sh(sandbox, "echo ok"), "ok\n");
    assert.equal((await small.call("/health")).status, 200);
  });
});
