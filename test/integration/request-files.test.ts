import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { collectStream, engine } from "../support/engine.js";

describe("request files and outputPaths", () => {
  test("files are placed before the program runs; outputPaths come back base64 in the result", async () => {
    const isol8 = engine();
    const result = await isol8.execute({
      runtime: "python",
      files: {
        "/sandbox/data/in.csv": "a,b\n1,2\n",
        "/sandbox/helper.py": "def double(x):\n    return 2 * x\n",
      },
      code: [
        "import helper",
        "rows = open('/sandbox/data/in.csv').read().splitlines()",
        "open('/sandbox/out.txt', 'w').write(str(helper.double(len(rows))))",
        "open('/sandbox/bin.dat', 'wb').write(bytes(range(256)))",
      ].join("\n"),
      outputPaths: ["/sandbox/out.txt", "/sandbox/bin.dat", "/sandbox/never-made.txt"],
    });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.deepEqual(Object.keys(result.files ?? {}).sort(), [
      "/sandbox/bin.dat",
      "/sandbox/out.txt",
    ]);
    assert.equal(Buffer.from(result.files?.["/sandbox/out.txt"] ?? "", "base64").toString(), "4");
    assert.deepEqual(
      [...Buffer.from(result.files?.["/sandbox/bin.dat"] ?? "", "base64")],
      [...Array(256).keys()],
    );
  });

  test("an output path the program made a symlink to a host-side file is left out", async () => {
    const isol8 = engine();
    const result = await isol8.execute({
      runtime: "bash",
      code: "ln -s /etc/passwd /sandbox/leak.txt; echo ok > /sandbox/fine.txt",
      outputPaths: ["/sandbox/leak.txt", "/sandbox/fine.txt"],
    });
    assert.deepEqual(Object.keys(result.files ?? {}), ["/sandbox/fine.txt"]);
  });

  test("a streamed run carries the files in its exit event", async () => {
    const isol8 = engine();
    const events = await collectStream(isol8, {
      runtime: "bash",
      cmd: "cp /sandbox/a.txt /sandbox/b.txt",
      files: { "/sandbox/a.txt": "copied" },
      outputPaths: ["/sandbox/b.txt"],
    });
    const exit = events.at(-1)?.event;
    assert.equal(exit?.type, "exit");
    const files = exit?.type === "exit" ? exit.result.files : undefined;
    assert.equal(Buffer.from(files?.["/sandbox/b.txt"] ?? "", "base64").toString(), "copied");
  });

  test("paths outside /sandbox are refused before anything runs", async () => {
    const isol8 = engine();
    await assert.rejects(
      isol8.execute({ runtime: "bash", code: "true", files: { "/etc/x": "x" } }),
      /files: "\/etc\/x" is outside \/sandbox/,
    );
    await assert.rejects(
      isol8.execute({ runtime: "bash", code: "true", files: { "/sandbox/../tmp/x": "x" } }),
      /is outside \/sandbox/,
    );
    await assert.rejects(
      isol8.execute({ runtime: "bash", code: "true", outputPaths: ["relative.txt"] }),
      /outputPaths: "relative.txt" must be an absolute path/,
    );
  });
});
