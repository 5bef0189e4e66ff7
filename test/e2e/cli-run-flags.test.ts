// isol8 run --workdir, --files, --persistent and --log-network, through the built CLI.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type PackageIndex, startPythonIndex } from "../fixtures/package-index.js";
import { startHttpUpstream, type Upstream } from "../fixtures/upstreams.js";
import { type CliResult, isol8, ok } from "../support/cli.js";
import { containersOf } from "../support/containers.js";
import { eventually } from "../support/eventually.js";
import { serveCli } from "../support/serve-cli.js";

function oneLine(result: CliResult, code: number, message: RegExp): void {
  assert.equal(result.code, code, result.stderr);
  assert.match(result.stderr.trim(), message);
  assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  assert.equal(result.stdout, "");
}

/** A project folder on the host: nested sources, data, and what --files leaves out. */
function makeProject(): string {
  const root = mkdtempSync(join(tmpdir(), "isol8-files-e2e-"));
  const files: Record<string, string | Buffer> = {
    "app/helper.py": "GREETING = 'hello from helper'\n",
    "app/data/input.txt": "line one\nline two\n",
    "app/data/blob.bin": Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80]),
    "README.md": "# project\n",
    ".git/HEAD": "ref: refs/heads/main\n",
    "node_modules/dep/index.js": "module.exports = 1;\n",
    "app/__pycache__/helper.cpython-311.pyc": Buffer.from([0x6f, 0x0d, 0x0d, 0x0a]),
    "env/pyvenv.cfg": "home = /usr/bin\n",
    "env/lib/site.py": "",
    ".pytest_cache/README.md": "cache\n",
  };
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  symlinkSync("app/data/input.txt", join(root, "input-link.txt"));
  return root;
}

const LIST_SANDBOX = [
  "import os",
  "found = []",
  "for d, dirs, files in os.walk('/sandbox'):",
  "    found += [os.path.join(d, f) for f in files]",
  "print('\\n'.join(sorted(found)))",
].join("\n");

describe("isol8 run --workdir", () => {
  test("the program starts there (created as the sandbox user); relative paths resolve there; the program file stays /sandbox/main.py", async () => {
    const r = ok(
      await isol8([
        "run",
        "--workdir",
        "/sandbox/work/deep",
        "-e",
        "import os; open('out.txt', 'w').write('x'); st = os.stat('.'); print(os.getcwd(), os.path.abspath('out.txt'), __file__, st.st_uid)",
      ]),
    );
    assert.equal(r.stdout, "/sandbox/work/deep /sandbox/work/deep/out.txt /sandbox/main.py 100\n");
  });

  test("node, bash (--cmd) and --setup start there too; a trailing slash and .. inside /sandbox are normalized", async () => {
    const node = ok(
      await isol8([
        "run",
        "-r",
        "node",
        "--workdir",
        "/sandbox/n/",
        "-e",
        "console.log(process.cwd())",
      ]),
    );
    assert.equal(node.stdout, "/sandbox/n\n");
    const cmd = ok(await isol8(["run", "--workdir", "/sandbox/a/../b", "--cmd", "pwd"]));
    assert.equal(cmd.stdout, "/sandbox/b\n");
    const setup = ok(
      await isol8([
        "run",
        "--workdir",
        "/sandbox/s",
        "--setup",
        "pwd > where.txt",
        "-e",
        "print(open('where.txt').read().strip())",
      ]),
    );
    assert.equal(setup.stdout, "/sandbox/s\n");
    const root = ok(await isol8(["run", "--workdir", "/sandbox", "--cmd", "pwd"]));
    assert.equal(root.stdout, "/sandbox\n");
  });

  test("a directory outside /sandbox, or a relative one, is refused before anything runs", async () => {
    oneLine(
      await isol8(["run", "--workdir", "/etc", "-e", "print(1)"]),
      2,
      /^isol8: --workdir: "\/etc" is outside \/sandbox$/,
    );
    oneLine(
      await isol8(["run", "--workdir", "/sandbox/../etc", "-e", "print(1)"]),
      2,
      /^isol8: --workdir: "\/sandbox\/\.\.\/etc" is outside \/sandbox$/,
    );
    oneLine(
      await isol8(["run", "--workdir", "work", "-e", "print(1)"]),
      2,
      /^isol8: --workdir: "work" must be an absolute path inside \/sandbox$/,
    );
  });
});

describe("isol8 run --files", () => {
  test("a host directory lands in /sandbox, nested folders, binary files and symlinks inside included; caches, VCS and virtualenvs left out", async () => {
    const project = makeProject();
    const listing = ok(await isol8(["run", "--files", project, "-e", LIST_SANDBOX]));
    assert.equal(
      listing.stdout,
      [
        "/sandbox/README.md",
        "/sandbox/app/data/blob.bin",
        "/sandbox/app/data/input.txt",
        "/sandbox/app/helper.py",
        "/sandbox/input-link.txt",
        "/sandbox/main.py",
        "",
      ].join("\n"),
    );
    const content = ok(
      await isol8([
        "run",
        "--files",
        project,
        "--workdir",
        "/sandbox/app",
        "-e",
        [
          "import sys; sys.path.insert(0, '.')",
          "import helper",
          "print(helper.GREETING)",
          "print(open('data/input.txt').read(), end='')",
          "print(list(open('data/blob.bin', 'rb').read()))",
          "print(open('/sandbox/input-link.txt').read() == open('data/input.txt').read())",
        ].join("\n"),
      ]),
    );
    assert.equal(
      content.stdout,
      "hello from helper\nline one\nline two\n[0, 1, 2, 254, 255, 128]\nTrue\n",
    );
  });

  test("a symlink out of the directory is refused with one line, exit 2, and nothing runs", async () => {
    const project = makeProject();
    symlinkSync("/etc/passwd", join(project, "app", "passwd"));
    oneLine(
      await isol8(["run", "--files", project, "-e", "print('ran')"]),
      2,
      /^isol8: --files: .*\/app\/passwd is a symlink to \/etc\/passwd, outside /,
    );
    oneLine(
      await isol8(["run", "--files", "/nonexistent/project", "-e", "print('ran')"]),
      2,
      /^isol8: --files: \/nonexistent\/project: no such directory$/,
    );
  });

  test("--files and --workdir work through an isol8 server (--host)", async () => {
    const key = "flags-test-master-key";
    const server = await serveCli(key);
    try {
      const r = ok(
        await isol8([
          "run",
          "--host",
          server.url,
          "--key",
          key,
          "--files",
          makeProject(),
          "--workdir",
          "/sandbox/app/data",
          "-e",
          "import os; print(os.getcwd()); print(open('input.txt').readline(), end=''); print(list(open('blob.bin', 'rb').read()))",
        ]),
      );
      assert.equal(r.stdout, "/sandbox/app/data\nline one\n[0, 1, 2, 254, 255, 128]\n");
    } finally {
      await server.stop();
    }
  });
});

describe("isol8 run --persistent", () => {
  let pypi: PackageIndex;
  before(async () => {
    pypi = await startPythonIndex([
      {
        name: "isol8-persistent-fixture",
        version: "1.0.0",
        modules: { "isol8_persistent_fixture.py": "VALUE = 'installed'\n" },
      },
    ]);
  });
  after(async () => {
    await pypi?.close();
  });

  test("one session container for setup, install and program; gone when the command ends", async () => {
    const r = ok(
      await isol8([
        "run",
        "--persistent",
        "--install",
        "isol8-persistent-fixture",
        "--pip-index-url",
        pypi.url,
        "--setup",
        "echo from-setup > /sandbox/setup.txt; hostname > /sandbox/setup-host.txt",
        "-e",
        [
          "import socket, isol8_persistent_fixture as f",
          "print(open('/sandbox/setup.txt').read().strip(), f.VALUE)",
          "print(open('/sandbox/setup-host.txt').read().strip() == socket.gethostname())",
          "print(open('/proc/1/cmdline').read().split('\\0')[0])",
        ].join("\n"),
      ]),
    );
    assert.equal(r.stdout, "from-setup installed\nTrue\n/usr/local/bin/isol8-supervisor\n");
    assert.ok(
      await eventually(async () => (await containersOf(r.pid)).length === 0, 15_000),
      "the persistent container is removed after the command",
    );
  });

  test("a timeout still ends the command with 124", async () => {
    const r = await isol8([
      "run",
      "--persistent",
      "--timeout",
      "1000",
      "-e",
      "import time; time.sleep(20)",
    ]);
    assert.equal(r.code, 124, r.stderr);
  });

  test("refused with --persist, and with --host", async () => {
    oneLine(
      await isol8(["run", "--persistent", "--persist", "-e", "1"]),
      2,
      /^isol8: --persist and --persistent: give one/,
    );
    oneLine(
      await isol8(["run", "--persistent", "--host", "http://127.0.0.1:9", "--key", "k", "-e", "1"]),
      2,
      /^isol8: --persistent is not available with --host$/,
    );
  });
});

describe("isol8 run --log-network", () => {
  let upstream: Upstream;
  before(async () => {
    upstream = await startHttpUpstream();
  });
  after(async () => {
    await upstream?.close();
  });

  test("is --net-log by the spec's name", async () => {
    const r = ok(
      await isol8([
        "run",
        "--allow",
        `localhost:${upstream.port}`,
        "--allow",
        "127\\.0\\.0\\.1",
        "--log-network",
        "--cmd",
        `curl -sS http://localhost:${upstream.port}/logged`,
      ]),
    );
    assert.equal(r.stdout, "upstream says GET /logged body=0");
    assert.match(r.stderr, /^isol8 net: ALLOW GET localhost:\d+\/logged \d+ ms/m);
    const json = JSON.parse(
      ok(
        await isol8([
          "run",
          "--net",
          "filtered",
          "--log-network",
          "--json",
          "--cmd",
          "curl -sS --fail http://elsewhere.test/ || true",
        ]),
      ).stdout,
    );
    assert.equal(json.networkLogs[0].action, "BLOCK");
    oneLine(
      await isol8(["run", "--net", "none", "--log-network", "-e", "1"]),
      2,
      /^isol8: --net-log: needs --net filtered/,
    );
  });
});
