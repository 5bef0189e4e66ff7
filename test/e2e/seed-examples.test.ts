// The "CLI Examples" of the spec (the isol8 skill's quick reference), each
// line run as written by bash, with `isol8` a shell function running the
// built CLI. What the lines need around them is made here:
// - `script.py` is a file in the working directory;
// - `--install numpy` installs from a local index serving a wheel named
//   numpy (no network), named by `registries.pip` in the user's ~/.isol8/config.json;
// - `--host http://server:3000` is the one substitution: the address of an
//   `isol8 serve --key my-api-key` this test starts (no host "server" here);
// - `isol8 cleanup` without a terminal must refuse and remove nothing; the
//   `--force` lines would remove every isol8 container and image of this
//   machine (other runs' included), so they run against a stand-in Docker
//   engine on a unix socket (DOCKER_HOST) that records what was removed.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type PackageIndex, startPythonIndex } from "../fixtures/package-index.js";
import { CLI, type CliResult, cleanEnv, isol8, spawnCollect } from "../support/cli.js";
import { containersOf, docker } from "../support/containers.js";
import { serveCli } from "../support/serve-cli.js";

/** The examples, verbatim. */
const EXAMPLES = {
  inline: `isol8 run -e "print('Hello!')" --runtime python`,
  file: "isol8 run script.py",
  install: `isol8 run -e "import numpy; print(numpy.__version__)" --runtime python --install numpy`,
  stdin: `echo "console.log(42)" | isol8 run --runtime node`,
  secret: `isol8 run -e "import os; print(os.environ['KEY'])" --runtime python --secret KEY=sk-1234`,
  remote: "isol8 run script.py --host http://server:3000 --key my-api-key",
  cleanup: "isol8 cleanup # Interactive (prompts for confirmation)",
  cleanupForce: "isol8 cleanup --force # Skip confirmation",
  cleanupImages: "isol8 cleanup --images --force # Also remove isol8 images",
};

const project = mkdtempSync(join(tmpdir(), "isol8-seed-"));

/** The environment of the examples' user, whose ~/.isol8/config.json names the test's package index. */
const user = cleanEnv();

/** Runs one line with bash in the example project, `isol8` being the built CLI; stdin is not a terminal. */
function shell(line: string, env: Record<string, string> = user): Promise<CliResult> {
  return spawnCollect(
    "bash",
    ["-c", `isol8() { "$ISOL8_TEST_NODE" "$ISOL8_TEST_CLI" "$@"; }\n${line}`],
    {
      cwd: project,
      env: { ...env, ISOL8_TEST_NODE: process.execPath, ISOL8_TEST_CLI: CLI },
    },
  );
}

/** A stand-in Docker engine: lists isol8 containers and images, records what is removed. */
interface FakeDocker {
  host: string;
  /** Request lines, e.g. `DELETE /containers/c1...?force=true`. */
  requests: string[];
  close(): Promise<void>;
}

async function startFakeDocker(): Promise<FakeDocker> {
  const dir = mkdtempSync(join(tmpdir(), "isol8-fake-docker-"));
  const socket = join(dir, "docker.sock");
  const requests: string[] = [];
  const managed = { "isol8.managed": "true" };
  // Left behind by an isol8 process that is gone: a pid above the kernel's
  // pid_max, which no process of this host can have.
  const gonePid = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8")) + 1;
  const containers = ["c1", "c2"].map((name) => ({
    Id: name.repeat(32),
    Image: "isol8:python",
    State: "running",
    Labels: { ...managed, "isol8.owner": `${hostname()}:${gonePid}` },
  }));
  const images = [
    { Id: `sha256:${"a".repeat(64)}`, RepoTags: ["isol8:python"], Created: 2, Labels: managed },
    { Id: `sha256:${"b".repeat(64)}`, RepoTags: ["isol8:base"], Created: 1, Labels: managed },
  ];
  const answer = (res: ServerResponse, status: number, body?: unknown) => {
    const text = body === undefined ? "" : JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json" });
    res.end(text);
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://docker");
    const path = url.pathname.replace(/^\/v[\d.]+/, "");
    requests.push(`${req.method} ${path}${url.search}`);
    const managedOnly = (url.searchParams.get("filters") ?? "").includes("isol8.managed=true");
    if (path === "/_ping") {
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end("OK");
    }
    if (req.method === "GET" && path === "/containers/json")
      return answer(res, 200, managedOnly ? containers : []);
    if (req.method === "GET" && path === "/images/json")
      return answer(res, 200, managedOnly ? images : []);
    if (req.method === "DELETE" && path.startsWith("/containers/")) return answer(res, 204);
    if (req.method === "DELETE" && path.startsWith("/images/"))
      return answer(res, 200, [{ Deleted: path.slice("/images/".length) }]);
    answer(res, 404, { message: "not in this stand-in" });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    host: `unix://${socket}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}

describe("the spec's CLI examples, run as written", () => {
  let index: PackageIndex;
  before(async () => {
    writeFileSync(join(project, "script.py"), "print('hello from script.py')\n");
    index = await startPythonIndex([
      {
        name: "numpy",
        version: "1.26.4",
        modules: { "numpy/__init__.py": "__version__ = '1.26.4'\n" },
      },
    ]);
    // The user's own configuration (trusted, unlike a project's file that widens where packages come from).
    mkdirSync(join(user.HOME ?? "", ".isol8"));
    writeFileSync(
      join(user.HOME ?? "", ".isol8", "config.json"),
      JSON.stringify({ registries: { pip: index.url } }),
    );
  });
  after(async () => {
    await index?.close();
  });

  test(EXAMPLES.inline, async () => {
    const r = await shell(EXAMPLES.inline);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Hello!\n");
  });

  test(EXAMPLES.file, async () => {
    const r = await shell(EXAMPLES.file);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hello from script.py\n");
  });

  test(EXAMPLES.install, async () => {
    const r = await shell(EXAMPLES.install);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "1.26.4\n");
    assert.ok(
      index.requests.some((path) => path.startsWith("/simple/numpy/")),
      `the local index was asked: ${index.requests.join(", ")}`,
    );
  });

  test(EXAMPLES.stdin, async () => {
    const r = await shell(EXAMPLES.stdin);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "42\n");
  });

  test(EXAMPLES.secret, async () => {
    const r = await shell(EXAMPLES.secret);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "***\n");
    assert.doesNotMatch(r.stdout + r.stderr, /sk-1234/);
  });

  test(EXAMPLES.remote, async () => {
    const server = await serveCli("my-api-key");
    try {
      const line = EXAMPLES.remote.replace("http://server:3000", server.url);
      const r = await shell(line);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "hello from script.py\n");
      const wrongKey = await shell(line.replace("my-api-key", "not-the-key"));
      assert.notEqual(wrongKey.code, 0);
      assert.match(wrongKey.stderr, /403/);
    } finally {
      await server.stop();
    }
  });

  test(`${EXAMPLES.cleanup}: without a terminal it refuses and removes nothing`, async () => {
    // An isol8 container that must survive: one kept with --persist.
    const kept = await isol8(["run", "--persist", "-e", "print('kept')"]);
    assert.equal(kept.code, 0, kept.stderr);
    const [mine] = await containersOf(kept.pid);
    assert.ok(mine, "the --persist container exists");
    try {
      const r = await shell(EXAMPLES.cleanup);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stdout, new RegExp(`^container ${mine.Id.slice(0, 12)} `, "m"));
      assert.equal(
        r.stderr,
        "isol8: refusing to remove without confirmation: not a terminal; use --force\n",
      );
      const still = await docker.getContainer(mine.Id).inspect();
      assert.equal(still.State.Running, true, "nothing was removed");
    } finally {
      await docker
        .getContainer(mine.Id)
        .remove({ force: true })
        .catch(() => undefined);
    }
  });

  test(`${EXAMPLES.cleanupForce} (against a stand-in Docker engine)`, async () => {
    const fake = await startFakeDocker();
    try {
      const r = await shell(EXAMPLES.cleanupForce, cleanEnv({ DOCKER_HOST: fake.host }));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^removed 2 container\(s\) and 0 image\(s\)$/m);
      const removed = fake.requests.filter((line) => line.startsWith("DELETE"));
      assert.deepEqual(removed, [
        `DELETE /containers/${"c1".repeat(32)}?force=true`,
        `DELETE /containers/${"c2".repeat(32)}?force=true`,
      ]);
      assert.ok(
        fake.requests.some((line) => /^GET \/containers\/json\?.*isol8\.managed%3Dtrue/.test(line)),
        `only isol8's containers were listed: ${fake.requests.join(", ")}`,
      );
    } finally {
      await fake.close();
    }
  });

  test(`${EXAMPLES.cleanupImages} (against a stand-in Docker engine)`, async () => {
    const fake = await startFakeDocker();
    try {
      const r = await shell(EXAMPLES.cleanupImages, cleanEnv({ DOCKER_HOST: fake.host }));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^removed 2 container\(s\) and 2 image\(s\)$/m);
      const removed = fake.requests.filter((line) => line.startsWith("DELETE"));
      assert.equal(removed.length, 4, removed.join(", "));
      // Images after containers, the newest (a runtime image) before the base it builds on.
      assert.match(removed[2] ?? "", new RegExp(`^DELETE /images/sha256:${"a".repeat(64)}`));
      assert.match(removed[3] ?? "", new RegExp(`^DELETE /images/sha256:${"b".repeat(64)}`));
    } finally {
      await fake.close();
    }
  });
});
