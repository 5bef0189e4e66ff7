import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type PackageIndex, startPythonIndex } from "../fixtures/package-index.js";
import { type BuildReport, type CliResult, isol8, lastLine } from "../support/cli.js";
import { docker } from "../support/containers.js";
import { removedAfterwards } from "../support/images.js";

// The built CLI (`npm run build` first) against real Docker. Custom images
// are built FROM the shared isol8:<runtime> images (run `isol8 setup` first)
// and removed at the end; the shared images are never rebuilt here. Python
// builds here; node and bash builds in cli-build-node.test.ts, which runs
// beside this file.

const created = removedAfterwards();
let pypi: PackageIndex;

before(async () => {
  pypi = await startPythonIndex([
    {
      name: "isol8-cli-fixture",
      version: "0.3.0",
      modules: { "isol8_cli_fixture.py": "WHO = 'baked'\n" },
    },
  ]);
});

after(() => pypi?.close());

describe("isol8 build", () => {
  let firstBuild: Promise<CliResult> | undefined;
  /** The fixture image's first build: made once, by whichever test needs it first. */
  const buildFixtureImage = () => {
    firstBuild ??= isol8([
      "build",
      "--base",
      "python",
      "--install",
      "isol8-cli-fixture",
      "--pip-index-url",
      pypi.url,
    ]).then((r) => {
      if (r.code === 0) created.add(r.stdout.trim());
      return r;
    });
    return firstBuild;
  };

  test("builds a custom image with a hashed tag; isol8 run --image uses its package", async () => {
    const r = await buildFixtureImage();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^isol8-custom:[0-9a-f]{16}\n$/);
    const tag = r.stdout.trim();
    assert.match(r.stderr, /Successfully tagged/, "build progress goes to stderr");
    assert.ok(pypi.requests.includes("/simple/isol8-cli-fixture/"), pypi.requests.join(" "));

    const info = await docker.getImage(tag).inspect();
    const labels = info.Config.Labels ?? {};
    assert.equal(labels["isol8.managed"], "true");
    assert.equal(labels["isol8.runtime"], "python");
    assert.match(labels["isol8.inputs"] ?? "", /^[0-9a-f]{64}$/);

    const run = await isol8([
      "run",
      "--image",
      tag,
      "-e",
      "import isol8_cli_fixture; print(isol8_cli_fixture.WHO)",
    ]);
    assert.equal(run.stderr, "");
    assert.equal(run.stdout, "baked\n");
    assert.equal(run.code, 0);
  });

  test("a second identical build is a no-op reported as up to date; --force rebuilds", async () => {
    const first = await buildFixtureImage();
    assert.equal(first.code, 0, first.stderr);
    const tag = first.stdout.trim();
    const requests = pypi.requests.length;
    const args = ["build", "--base", "python", "--install", "isol8-cli-fixture"];
    const again = await isol8([...args, "--pip-index-url", pypi.url, "--json"]);
    assert.equal(again.code, 0, again.stderr);
    const report = JSON.parse(again.stdout) as BuildReport;
    assert.deepEqual(Object.keys(report).sort(), [
      "image",
      "packages",
      "runtime",
      "seconds",
      "sizeBytes",
      "status",
    ]);
    assert.equal(report.image, tag);
    assert.equal(report.runtime, "python");
    assert.equal(report.status, "up-to-date");
    assert.deepEqual(report.packages, ["isol8-cli-fixture"]);
    assert.ok(report.sizeBytes > 0);
    assert.doesNotMatch(again.stderr, /Step \d/, "nothing was built");
    assert.equal(pypi.requests.length, requests, "nothing was fetched");

    const plain = await isol8([...args, "--pip-index-url", pypi.url]);
    assert.equal(plain.stdout, `${tag}\n`);
    assert.match(plain.stderr, /up to date/);

    const idBefore = (await docker.getImage(tag).inspect()).Id;
    const forced = await isol8([...args, "--pip-index-url", pypi.url, "--force", "--json"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal((JSON.parse(forced.stdout) as BuildReport).status, "built");
    assert.ok(pypi.requests.length > requests, "a forced build fetches again");
    const idAfter = (await docker.getImage(tag).inspect()).Id;
    assert.notEqual(idAfter, idBefore);
    await assert.rejects(docker.getImage(idBefore).inspect(), "the replaced image is removed");
  });

  test("bad input: one line, exit 2, nothing built", async () => {
    const cases: [string[], RegExp][] = [
      [["build", "--install", "x"], /required option '--base <runtime>'/],
      [["build", "--base", "ruby", "--install", "x"], /--base: "ruby" is not one of/],
      [["build", "--base", "python"], /nothing to build/],
      [["build", "--base", "python", "--install", ""], /empty package name/],
      [["build", "--base", "python", "--install", "a,,b"], /empty package name/],
      [["build", "--base", "python", "--install=-rrequirements.txt"], /starts with '-'/],
      [["build", "--base", "node", "--install=--registry=http://evil/"], /starts with '-'/],
      [["build", "--base", "bash", "--install", "jq;id"], /not a Debian package name/],
      [["build", "--base", "deno", "--install", "jsr:@std/path"], /only npm: packages/],
      [["build", "--base", "python", "--install", "x", "--tag", "Bad Tag"], /tag "Bad Tag"/],
      [["build", "--base", "python", "--install", "x", "--tag", "isol8:python"], /managed by/],
      [["build", "--base", "python", "--setup", " "], /setup command 1 is empty/],
      [
        ["build", "--base", "python", "--install", "x", "--pip-index-url", "ftp://x/"],
        /not an http or https URL/,
      ],
    ];
    // Each is refused before Docker is asked anything.
    for (const [args, message] of cases) {
      const r = await isol8(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^isol8: [^\n]+\n$/, args.join(" "));
      assert.match(r.stderr, message, args.join(" "));
    }
  });

  test("a failed install: one line naming the package step, exit 125", async () => {
    const r = await isol8([
      "build",
      "--base",
      "python",
      "--install",
      "isol8-no-such-package",
      "--pip-index-url",
      pypi.url,
    ]);
    assert.equal(r.code, 125);
    assert.equal(r.stdout, "");
    assert.match(
      lastLine(r.stderr),
      /^isol8: installing python packages into isol8-custom:[0-9a-f]{16} failed: ERROR: No matching distribution found for isol8-no-such-package$/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  });
});

describe("isol8 setup: package flags and config are checked before anything is built", () => {
  test("bad flags: one line, exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [["setup", "--python", ""], /empty package name/],
      [["setup", "--python=-e"], /starts with '-'/],
      [["setup", "--bash", "Not_Debian"], /not a Debian package name/],
      [
        ["setup", "--runtime", "python", "--node", "x"],
        /--node: the node image is not being built/,
      ],
      [["setup", "--python", "x", "--pip-index-url", "not a url"], /is not a URL/],
    ];
    for (const [args, message] of cases) {
      const r = await isol8(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^isol8: [^\n]+\n$/);
      assert.match(r.stderr, message);
    }
  });

  test("the config file's dependencies and registries are validated", async () => {
    const dir = mkdtempSync(join(tmpdir(), "isol8-build-e2e-"));
    const configure = (config: unknown) =>
      writeFileSync(join(dir, "isol8.config.json"), JSON.stringify(config));

    // Packages widen what a project's file may ask for: --config says the user chose this file.
    const chosen = ["--config", join(dir, "isol8.config.json")];
    configure({ dependencies: { python: ["-rrequirements.txt"] } });
    let r = await isol8(["setup", ...chosen], { cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^isol8: python package "-rrequirements.txt": starts with '-'/m);

    configure({ dependencies: { ruby: ["x"] } });
    r = await isol8(["setup"], { cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /isol8\.config\.json: dependencies: /);

    configure({ registries: { pip: "ftp://mirror/" } });
    r = await isol8(["setup"], { cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /isol8\.config\.json: registries\.pip: /);
    r = await isol8(["build", "--base", "python", "--install", "x"], { cwd: dir });
    assert.equal(r.code, 2, "isol8 build reads registries from the same file");
    assert.match(r.stderr, /isol8\.config\.json: registries\.pip: /);

    // A flag wins over the file: the file's bad list is never looked at.
    configure({ dependencies: { python: ["-e"] } });
    r = await isol8(["setup", "--python", "", ...chosen], { cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /empty package name/);
  });
});
