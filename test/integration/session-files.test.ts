import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { engine } from "../support/engine.js";

describe("persistent sessions: files", () => {
  test("files put before and after the first run are there; binary content round-trips", async () => {
    const isol8 = engine({ mode: "persistent" });
    await isol8.putFile("/sandbox/data.csv", "col1,col2\n1,2\n");
    const read = await isol8.execute({
      runtime: "python",
      code: "print(open('/sandbox/data.csv').read().splitlines()[1])",
    });
    assert.equal(read.stdout, "1,2\n");
    const bytes = randomBytes(300_000);
    await isol8.putFile("/sandbox/nested/dir/blob.bin", bytes);
    const size = await isol8.execute({
      runtime: "python",
      cmd: "stat -c %s /sandbox/nested/dir/blob.bin",
    });
    assert.equal(size.stdout, "300000\n");
    assert.deepEqual(await isol8.getFile("/sandbox/nested/dir/blob.bin"), bytes);
    await isol8.execute({
      runtime: "python",
      code: "open('/sandbox/out.txt', 'w').write('made by python')",
    });
    assert.equal((await isol8.getFile("/sandbox/out.txt")).toString(), "made by python");
  });

  test("a file larger than one channel part (8 MB) is written and read whole", async () => {
    const isol8 = engine({ mode: "persistent" });
    const big = randomBytes(20 * 1024 * 1024);
    await isol8.putFile("/sandbox/big.bin", big);
    assert.deepEqual(await isol8.getFile("/sandbox/big.bin"), big);
  });

  test("paths outside /sandbox, also through symlinks, are refused", async () => {
    const isol8 = engine({ mode: "persistent" });
    await isol8.execute({
      runtime: "bash",
      code: "ln -s /etc/shadow /sandbox/shadow; ln -s /proc/self/environ /sandbox/env; ln -s /tmp /sandbox/tmplink; ln -s /etc /sandbox/etclink",
    });
    await assert.rejects(
      isol8.getFile("/etc/passwd"),
      /path: "\/etc\/passwd" is outside \/sandbox/,
    );
    await assert.rejects(isol8.getFile("/sandbox/../etc/passwd"), /is outside \/sandbox/);
    await assert.rejects(
      isol8.putFile("relative.txt", "x"),
      /must be an absolute path inside \/sandbox/,
    );
    await assert.rejects(
      isol8.getFile("/sandbox/shadow"),
      /resolves outside \/sandbox \(to \/etc\/shadow\)/,
    );
    await assert.rejects(isol8.getFile("/sandbox/env"), /resolves outside \/sandbox/);
    await assert.rejects(isol8.getFile("/sandbox/etclink/hostname"), /resolves outside \/sandbox/);
    await assert.rejects(isol8.putFile("/sandbox/tmplink/x", "x"), /resolves outside \/sandbox/);
    await assert.rejects(isol8.getFile("/sandbox/missing.txt"), /no such file/);
    const tmp = await isol8.execute({ runtime: "bash", code: "ls /tmp | wc -l" });
    assert.equal(tmp.stdout, "0\n", "nothing was written through the symlink");
  });

  test("a symlink to a file outside /sandbox that the sandbox user may read and write: neither is done through it", async () => {
    const isol8 = engine({ mode: "persistent" });
    // The target is the sandbox user's own, so only the engine's refusal, not
    // a permission, stands between the link and it; its content is unique,
    // so any of it coming back shows the link was followed.
    const marker = `outside-${randomBytes(8).toString("hex")}`;
    const made = await isol8.execute({
      runtime: "bash",
      code: `printf %s ${marker} > /tmp/outside.txt && ln -s /tmp/outside.txt /sandbox/outlink && cat /sandbox/outlink`,
    });
    assert.equal(made.stdout, marker, "the link leads to the marker for the sandbox user");
    const read = await isol8.getFile("/sandbox/outlink").then(
      (content) => content.toString(),
      (error: unknown) => error,
    );
    assert.ok(read instanceof Error, `read through the link: ${String(read)}`);
    assert.doesNotMatch(read.message, new RegExp(marker));
    assert.match(read.message, /resolves outside \/sandbox \(to \/tmp\/outside\.txt\)/);
    await assert.rejects(
      isol8.putFile("/sandbox/outlink", "overwritten"),
      /cannot write \/sandbox\/outlink: Too many levels of symbolic links/,
    );
    const after = await isol8.execute({ runtime: "bash", code: "cat /tmp/outside.txt" });
    assert.equal(after.stdout, marker, "the file outside is as it was");
  });

  test("file I/O needs a persistent engine", async () => {
    const isol8 = engine();
    await assert.rejects(isol8.putFile("/sandbox/a", "x"), /needs a persistent engine/);
  });
});

describe("an aborted stream in a persistent engine", () => {
  test("ends at the abort, hands out nothing after it, and keeps the container and its files", async () => {
    const isol8 = engine({ mode: "persistent" });
    await isol8.putFile("/sandbox/keep.txt", "kept");
    const before = await isol8.execute({ runtime: "bash", code: "hostname" });
    const abort = new AbortController();
    const seen: string[] = [];
    // Much output at once, so events are still queued when the abort comes.
    const run = isol8.executeStream(
      { runtime: "bash", code: "seq 1 20000; sleep 60" },
      { signal: abort.signal },
    );
    await assert.rejects(
      (async () => {
        for await (const event of run) {
          if (event.type !== "stdout") continue;
          seen.push(String(event.data));
          abort.abort(new Error("enough"));
        }
      })(),
      /enough/,
    );
    assert.equal(seen.length, 1, "nothing after the event that aborted");
    const after = await isol8.execute({ runtime: "bash", code: "hostname; cat /sandbox/keep.txt" });
    assert.equal(after.stdout, `${before.stdout}kept`, JSON.stringify(after));
  });
});
