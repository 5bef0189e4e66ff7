import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CliError } from "../../src/cli/exit-codes.js";
import { readFilesDir } from "../../src/cli/files-dir.js";

/** A fresh folder holding `tree` (relative path -> content; a trailing `/` makes a folder). */
function tree(entries: Record<string, string | Buffer>): string {
  const root = mkdtempSync(join(tmpdir(), "isol8-files-dir-"));
  for (const [path, content] of Object.entries(entries)) {
    if (path.endsWith("/")) {
      mkdirSync(join(root, path), { recursive: true });
      continue;
    }
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

async function refused(dir: string, message: RegExp): Promise<void> {
  await assert.rejects(readFilesDir(dir), (error: unknown) => {
    assert.ok(error instanceof CliError, String(error));
    assert.equal(error.exitCode, 2);
    assert.match(error.message, message);
    assert.equal(error.message.split("\n").length, 1);
    return true;
  });
}

test("nested files land at /sandbox/<relative path>; text as text, other bytes as base64", async () => {
  const binary = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe]);
  const root = tree({
    "main.py": "print('hi')\n",
    "pkg/__init__.py": "",
    "pkg/deep/data.txt": "héllo ✓\n",
    "img/logo.png": binary,
    "bom.txt": Buffer.from([0xef, 0xbb, 0xbf, 0x41]),
    "latin1.txt": Buffer.from([0x63, 0x61, 0x66, 0xe9]),
    "empty/": "",
  });
  const result = await readFilesDir(root);
  assert.deepEqual(result.files, {
    "/sandbox/bom.txt": "\ufeffA",
    "/sandbox/main.py": "print('hi')\n",
    "/sandbox/pkg/__init__.py": "",
    "/sandbox/pkg/deep/data.txt": "héllo ✓\n",
  });
  assert.deepEqual(result.filesBase64, {
    "/sandbox/img/logo.png": binary.toString("base64"),
    "/sandbox/latin1.txt": Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString("base64"),
  });
  assert.deepEqual(result.skipped, []);
});

test("version control, dependencies, virtualenvs and caches are left out, at any depth", async () => {
  const root = tree({
    "app.py": "x = 1\n",
    ".git/HEAD": "ref: refs/heads/main\n",
    "node_modules/left-pad/index.js": "module.exports = 1;\n",
    "src/__pycache__/app.cpython-311.pyc": Buffer.from([0, 1, 2]),
    "src/mod.py": "y = 2\n",
    ".venv/bin/python": "",
    "venv/lib/site.py": "",
    "env311/pyvenv.cfg": "home = /usr/bin\n",
    "env311/lib/x.py": "",
    ".cache/pip/x": "",
    ".pytest_cache/v/cache": "",
    "sub/.mypy_cache/3.11/x.json": "{}",
    "sub/keep.txt": "kept\n",
    "venv.txt": "a file named like a skipped folder is kept\n",
  });
  const result = await readFilesDir(root);
  assert.deepEqual(Object.keys(result.files).sort(), [
    "/sandbox/app.py",
    "/sandbox/src/mod.py",
    "/sandbox/sub/keep.txt",
    "/sandbox/venv.txt",
  ]);
  assert.deepEqual(result.filesBase64, {});
  assert.deepEqual(result.skipped.sort(), [
    ".cache",
    ".git",
    ".pytest_cache",
    ".venv",
    "env311",
    "node_modules",
    "src/__pycache__",
    "sub/.mypy_cache",
    "venv",
  ]);
});

test("symlinks inside the directory are followed, to files and to folders", async () => {
  const root = tree({ "data/a.csv": "1,2\n", "docs/readme.md": "# hi\n" });
  symlinkSync("data/a.csv", join(root, "link.csv"));
  symlinkSync("../data", join(root, "docs", "data"));
  const result = await readFilesDir(root);
  assert.deepEqual(result.files, {
    "/sandbox/data/a.csv": "1,2\n",
    "/sandbox/docs/data/a.csv": "1,2\n",
    "/sandbox/docs/readme.md": "# hi\n",
    "/sandbox/link.csv": "1,2\n",
  });
});

test("the directory itself may be reached through a symlink", async () => {
  const root = tree({ "a.txt": "a\n" });
  const alias = join(mkdtempSync(join(tmpdir(), "isol8-files-alias-")), "project");
  symlinkSync(root, alias);
  assert.deepEqual((await readFilesDir(alias)).files, { "/sandbox/a.txt": "a\n" });
});

test("a symlink out of the directory is refused, file or folder, relative or absolute", async () => {
  const outside = tree({ "secret.txt": "do not send\n" });
  const toFile = tree({ "ok.txt": "ok\n" });
  symlinkSync(join(outside, "secret.txt"), join(toFile, "leak.txt"));
  await refused(toFile, /^--files: .*leak\.txt is a symlink to .*secret\.txt, outside /);

  const toDir = tree({ "sub/ok.txt": "ok\n" });
  symlinkSync("../../", join(toDir, "sub", "up"));
  await refused(toDir, /sub\/up is a symlink to .*, outside /);

  const toEtc = tree({});
  symlinkSync("/etc", join(toEtc, "etc"));
  await refused(toEtc, /etc is a symlink to \/etc, outside /);

  const dangling = tree({});
  symlinkSync("/nonexistent/elsewhere", join(dangling, "gone"));
  await refused(dangling, /gone is a symlink to \/nonexistent\/elsewhere, outside /);
});

test("a dangling symlink inside, a symlink loop and a missing directory are refused", async () => {
  const dangling = tree({});
  symlinkSync("nothing-here", join(dangling, "gone"));
  await refused(dangling, /gone is a symlink to .*nothing-here, which does not exist$/);

  const loop = tree({ "a/x.txt": "x\n" });
  symlinkSync("..", join(loop, "a", "parent"));
  await refused(loop, /a\/parent is a symlink loop$/);

  const selfLoop = tree({});
  symlinkSync("me", join(selfLoop, "me"));
  await refused(selfLoop, /me is a symlink loop$/);

  await refused(
    "/nonexistent/isol8-project",
    /^--files: \/nonexistent\/isol8-project: no such directory$/,
  );
  const file = join(tree({ "f.txt": "f" }), "f.txt");
  await refused(file, /is not a directory$/);
});

/** A folder outside the listed directory, holding a file the sandbox must never get. */
function outsideSecret(): { dir: string; file: string } {
  const dir = tree({ "a.txt": "SECRET from outside\n", "sub/a.txt": "SECRET from outside\n" });
  return { dir, file: join(dir, "a.txt") };
}

/** Replaces `path` (file or folder) with a symlink to `target`, as a process writing into the directory could. */
function swapForSymlink(path: string, target: string): void {
  renameSync(path, `${path}.moved`);
  symlinkSync(target, path);
}

test("a file swapped for a symlink to an outside file after it was listed is refused", async () => {
  const secret = outsideSecret();
  const root = tree({ "a.txt": "ok\n", "b.txt": "b\n" });
  const hooks = {
    beforeOpen: (rel: string) => {
      if (rel === "a.txt") swapForSymlink(join(root, "a.txt"), secret.file);
    },
  };
  await assert.rejects(readFilesDir(root, "--files", hooks), (error: unknown) => {
    assert.ok(error instanceof CliError, String(error));
    assert.equal(error.exitCode, 2);
    assert.match(
      error.message,
      /^--files: .*a\.txt changed while it was being read; nothing was sent$/,
    );
    return true;
  });
});

test("a folder swapped for a symlink to an outside folder after it was listed is refused", async () => {
  const secret = outsideSecret();
  const root = tree({ "sub/a.txt": "ok\n" });
  const hooks = {
    beforeOpen: (rel: string) => {
      if (rel === "sub") swapForSymlink(join(root, "sub"), join(secret.dir, "sub"));
    },
  };
  await assert.rejects(readFilesDir(root, "--files", hooks), (error: unknown) => {
    assert.ok(error instanceof CliError, String(error));
    assert.match(
      error.message,
      /^--files: .*sub changed while it was being read; nothing was sent$/,
    );
    return true;
  });
});

test("a parent folder swapped after its file was listed never leads outside", async () => {
  const secret = outsideSecret();
  const root = tree({ "sub/a.txt": "ok\n" });
  const hooks = {
    beforeOpen: (rel: string) => {
      if (rel === "sub/a.txt") swapForSymlink(join(root, "sub"), secret.dir);
    },
  };
  // Read through the folder already opened (the moved original), or refused: never the outside file.
  const outcome = await readFilesDir(root, "--files", hooks).then(
    (result) => JSON.stringify(result),
    (error: unknown) => String(error),
  );
  assert.doesNotMatch(outcome, /SECRET/);
  assert.ok(
    outcome.includes('"/sandbox/sub/a.txt":"ok\\n"') || /sub\/a\.txt changed/.test(outcome),
    outcome,
  );
});

test("another process swapping a file and a symlink to an outside file in a loop never gets it through", async () => {
  const secret = outsideSecret();
  const root = tree({ "a.txt": "ok\n" });
  // Swaps a.txt between a regular file and a symlink to the secret, atomically (rename), without pause.
  const swap = `
    const { renameSync, symlinkSync, writeFileSync } = require("node:fs");
    const [root, secret] = process.argv.slice(1);
    process.chdir(root);
    for (;;) {
      symlinkSync(secret, "l"); renameSync("l", "a.txt");
      writeFileSync("f", "ok\\n"); renameSync("f", "a.txt");
    }`;
  const swapper = spawn(process.execPath, ["-e", swap, root, secret.file], { stdio: "ignore" });
  try {
    let read = 0;
    let refused = 0;
    for (let i = 0; i < 400; i += 1) {
      const outcome = await readFilesDir(root).then(
        (result) => JSON.stringify(result),
        (error: unknown) => String(error),
      );
      assert.doesNotMatch(outcome, /SECRET/, `attempt ${i}`);
      if (outcome.startsWith("{")) read += 1;
      else refused += 1;
    }
    assert.equal(read + refused, 400);
  } finally {
    swapper.kill();
  }
});
