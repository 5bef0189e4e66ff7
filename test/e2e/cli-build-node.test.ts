// isol8 build on the node and bash images, through the built CLI against
// real Docker (python builds and the checks before any build are in
// cli-build.test.ts, which runs beside this file). Custom images are built
// FROM the shared isol8:<runtime> images and removed at the end; the shared
// images are never rebuilt here.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type PackageIndex, startNpmRegistry } from "../fixtures/package-index.js";
import { type BuildReport, isol8, lastLine } from "../support/cli.js";
import { engine } from "../support/engine.js";
import { removedAfterwards } from "../support/images.js";

const created = removedAfterwards();
const testRepo = `isol8-test-build-${process.pid}`;
let npm: PackageIndex;

before(async () => {
  npm = await startNpmRegistry([
    {
      name: "isol8-cli-fixture",
      version: "1.0.0",
      files: { "index.js": "module.exports = 'from the local registry';\n" },
    },
  ]);
});

after(() => npm?.close());

describe("isol8 build --base node and bash", () => {
  test("what --setup leaves in /sandbox is there when a sandbox starts, and again after every wipe", async () => {
    const name = `${testRepo}:sandbox-files`;
    created.add(name);
    const built = await isol8([
      "build",
      "--base",
      "bash",
      "--setup",
      "echo hi > /sandbox/x && mkdir -p /sandbox/sub && echo deep > /sandbox/sub/y && chmod 0444 /sandbox/sub/y && ln -s x /sandbox/link",
      "--tag",
      name,
    ]);
    assert.equal(built.code, 0, built.stderr);
    /** Prints what /sandbox holds, then leaves it changed: the seed gone, a file of its own. */
    const look = [
      "cat /sandbox/x /sandbox/sub/y; readlink /sandbox/link",
      "stat -c '%a %u' /sandbox/sub/y /sandbox/x",
      "ls -A /sandbox | grep -v '^main.sh$' | sort | paste -sd ' '",
      "rm -rf /sandbox/x /sandbox/sub /sandbox/link; echo mine > /sandbox/leftover",
    ].join("\n");
    const fresh = ["hi", "deep", "x", "444 100", "644 100", "link sub x"];
    const cli = await isol8(["run", "--image", name, "-r", "bash", "--cmd", look]);
    assert.equal(cli.stderr, "");
    assert.deepEqual(cli.stdout.trim().split("\n"), fresh);
    // A pooled container is wiped between runs: until a run lands in a
    // container an earlier run used (and changed), each must see the seed.
    const isol8Engine = engine({
      image: name,
      poolStrategy: "fast",
      poolSize: { clean: 1, dirty: 1 },
    });
    const used = new Set<string>();
    let reused = false;
    for (let attempt = 0; attempt < 8 && !reused; attempt++) {
      const run = await isol8Engine.execute({ runtime: "bash", code: look });
      assert.equal(run.stderr, "");
      assert.deepEqual(run.stdout.trim().split("\n"), fresh, `run ${attempt + 1}`);
      const container = run.containerId ?? "";
      assert.ok(container, "the result names its container");
      reused = used.has(container);
      used.add(container);
      await new Promise((resolve) => setTimeout(resolve, 300 * (attempt + 1)));
    }
    assert.ok(reused, "a run landed in a container an earlier run had changed, after its wipe");
  });

  test("--tag names the image; --setup commands run as root at build time, in order", async () => {
    const name = `${testRepo}:node`;
    created.add(name);
    const r = await isol8([
      "build",
      "--base",
      "node",
      "--install",
      "isol8-cli-fixture",
      "--npm-registry",
      npm.url,
      "--setup",
      "id -u > /etc/isol8-setup-order",
      "echo second >> /etc/isol8-setup-order",
      "--tag",
      name,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${name}\n`);
    const run = await isol8([
      "run",
      "--image",
      name,
      "-r",
      "node",
      "-e",
      "import v from 'isol8-cli-fixture'; import { readFileSync } from 'node:fs'; console.log(v); console.log(readFileSync('/etc/isol8-setup-order', 'utf8').trim());",
    ]);
    assert.equal(run.stderr, "");
    assert.equal(run.stdout, "from the local registry\n0\nsecond\n");
  });

  test("a package from the public npm registry (registry.npmjs.org)", async () => {
    const r = await isol8(["build", "--base", "node", "--install", "is-number@7.0.0", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as BuildReport;
    created.add(report.image);
    assert.equal(report.status, "built");
    const run = await isol8([
      "run",
      "--image",
      report.image,
      "-r",
      "node",
      "-e",
      "import isNumber from 'is-number'; console.log(isNumber(7), isNumber('x'))",
    ]);
    assert.equal(run.stdout, "true false\n", run.stderr);
  });

  test("a failed setup command: one line naming it, exit 125", async () => {
    const r = await isol8(["build", "--base", "bash", "--setup", "true", "echo oops >&2; exit 7"]);
    assert.equal(r.code, 125);
    assert.equal(
      lastLine(r.stderr),
      "isol8: setup command 2 (`echo oops >&2; exit 7`) failed (exit code 7): oops",
    );
  });
});
