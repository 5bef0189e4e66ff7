import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { engine } from "../helpers.js";

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
    await assert.rejects(isol8.putFile("/sandbox/shadow", "x"), /shadow/);
    await assert.rejects(isol8.getFile("/sandbox/missing.txt"), /no such file/);
    const tmp = await isol8.execute({ runtime: "bash", code: "ls /tmp | wc -l" });
    assert.equal(tmp.stdout, "0\n", "nothing was written through the symlink");
  });

  test("file I/O needs a persistent engine", async () => {
    const isol8 = engine();
    await assert.rejects(isol8.putFile("/sandbox/a", "x"), /needs a persistent engine/);
  });
});
