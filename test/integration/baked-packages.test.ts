import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createDockerClient } from "../../src/backend/docker/client.js";
import { bakeRequest } from "../../src/cli/commands/setup.js";
import { LABELS } from "../../src/engine/labels.js";
import {
  buildCustomImage,
  checkImageTag,
  ImageBuildError,
  ImageInputError,
  normalizePackages,
  setupImages,
  splitPackageList,
} from "../../src/images/index.js";
import type { ExecutionRequest } from "../../src/types.js";
import {
  type PackageIndex,
  startNpmRegistry,
  startPythonIndex,
} from "../fixtures/package-index.js";
import { runOnce } from "../support/engine.js";
import { removedAfterwards } from "../support/images.js";

// Real Docker. Baking is tested on images of this test's own (setupImages'
// imageTags, and custom images FROM the shared runtime images), never by
// rebuilding isol8:<runtime>; every image made here is removed at the end.
// Packages come from local fixtures (a PEP 503 index and an npm registry on
// 127.0.0.1), except the Debian package (jq), which comes from Debian.

const docker = createDockerClient();
const verbose = process.env.ISOL8_TEST_VERBOSE === "1";
const onProgress = verbose ? (line: string) => process.stderr.write(`${line}\n`) : undefined;
const testRepo = `isol8-test-baked-${process.pid}`;
const created = removedAfterwards();

let pypi: PackageIndex;
let npm: PackageIndex;

before(async () => {
  pypi = await startPythonIndex([
    {
      name: "isol8-fixture",
      version: "1.0.0",
      modules: { "isol8_fixture.py": "ANSWER = 42\n" },
    },
    {
      name: "isol8_fixture.two",
      version: "2.0.0",
      modules: {
        "isol8_fixture_two/__init__.py": "from isol8_fixture import ANSWER\nTWICE = 2 * ANSWER\n",
      },
      requires: ["isol8-fixture>=1"],
    },
  ]);
  npm = await startNpmRegistry([
    {
      name: "isol8-fixture-cjs",
      version: "1.0.0",
      files: { "index.js": "module.exports = { answer: 42 };\n" },
    },
    {
      name: "isol8-fixture-esm",
      version: "2.0.0",
      files: {
        "package.json": JSON.stringify({
          name: "isol8-fixture-esm",
          version: "2.0.0",
          type: "module",
          exports: "./index.js",
          dependencies: { "isol8-fixture-cjs": "^1.0.0" },
        }),
        "index.js": "import cjs from 'isol8-fixture-cjs';\nexport const twice = 2 * cjs.answer;\n",
      },
    },
    {
      name: "@isol8-test/scoped",
      version: "3.1.0",
      files: { "index.js": "module.exports = 'scoped';\n" },
    },
  ]);
});

after(() => Promise.all([pypi?.close(), npm?.close()]));

/** Runs one request in `image` (as a sandbox: no network, read-only root, uid 100). */
async function runIn(image: string, request: ExecutionRequest): Promise<string> {
  const result = await runOnce(request, { image });
  assert.equal(result.exitCode, 0, `${result.stdout}${result.stderr}`);
  return result.stdout;
}

describe("package lists (no Docker)", () => {
  test("flags win over the config file per runtime; registries per key", () => {
    const { packages, registries } = bakeRequest(
      { python: ["a,b"], node: undefined, npmRegistry: "http://flag.example/" },
      {
        dependencies: { python: ["from-config"], node: ["left-pad"], bash: ["jq"] },
        registries: { pip: "http://pip.example/simple/", npm: "http://config.example/" },
      },
    );
    assert.deepEqual(packages, { python: ["a", "b"], node: ["left-pad"], bash: ["jq"] });
    assert.deepEqual(registries, {
      pip: "http://pip.example/simple/",
      npm: "http://flag.example/",
    });
  });

  test("comma lists keep pip version ranges and extras together", () => {
    assert.deepEqual(splitPackageList("requests>=2,<3,rich[jupyter,extra] , numpy"), [
      "requests>=2,<3",
      "rich[jupyter,extra]",
      "numpy",
    ]);
    assert.deepEqual(splitPackageList("a,,b"), ["a", "", "b"]);
  });

  test("bad names are refused before anything is built", () => {
    const refused = (runtime: Parameters<typeof normalizePackages>[0], spec: string) =>
      assert.throws(() => normalizePackages(runtime, [spec]), ImageInputError, spec);
    refused("python", "");
    refused("python", "-r");
    refused("python", "--index-url=http://evil/");
    refused("node", "-g");
    refused("node", "left pad");
    refused("bash", "Not_A_Debian_Name");
    refused("bash", "jq;rm");
    refused("deno", "jsr:@std/path");
    refused("deno", "npm:-x");
    assert.deepEqual(normalizePackages("deno", ["chalk", "npm:is-odd@3"]), [
      "npm:chalk",
      "npm:is-odd@3",
    ]);
    assert.deepEqual(normalizePackages("python", [" requests >= 2 "]), ["requests >= 2"]);
  });

  test("tags are checked; isol8's own names are refused", () => {
    assert.equal(checkImageTag("my-image"), "my-image:latest");
    assert.equal(checkImageTag("localhost:5000/team/tool:v1.2"), "localhost:5000/team/tool:v1.2");
    for (const bad of ["", "Upper:x", "a:b:c", "a:-x", "isol8:python", "a@sha256:00", "a//b"]) {
      assert.throws(() => checkImageTag(bad), ImageInputError, bad);
    }
  });
});

describe("isol8 setup bakes packages (into this test's own tags)", () => {
  const tags = { python: `${testRepo}:python`, bash: `${testRepo}:bash` };

  test("python from a local index and jq from Debian; a second setup is a no-op", async () => {
    for (const tag of Object.values(tags)) created.add(tag);
    const options = {
      runtimes: ["python" as const, "bash" as const],
      packages: { python: ["isol8-fixture"], bash: ["jq"] },
      registries: { pip: pypi.url },
      imageTags: tags,
      onProgress,
    };
    const first = await setupImages(docker, options);
    const python = first.find((r) => r.image === tags.python);
    const bash = first.find((r) => r.image === tags.bash);
    assert.equal(python?.status, "built");
    assert.deepEqual(python?.packages, ["isol8-fixture"]);
    assert.equal(bash?.status, "built");
    assert.deepEqual(bash?.packages, ["jq"]);
    assert.ok(pypi.requests.includes("/simple/isol8-fixture/"), pypi.requests.join(" "));
    assert.ok(pypi.requests.some((path) => path.startsWith("/files/isol8_fixture-1.0.0-")));

    const labels = (await docker.getImage(tags.python).inspect()).Config.Labels ?? {};
    assert.equal(labels[LABELS.managed], "true");
    assert.equal(labels[LABELS.runtime], "python");
    assert.match(labels[LABELS.inputsHash] ?? "", /^[0-9a-f]{64}$/);

    const out = await runIn(tags.python, {
      runtime: "python",
      code: "import isol8_fixture, os\nprint(isol8_fixture.ANSWER, os.getuid(), isol8_fixture.__file__)",
    });
    assert.equal(out, "42 100 /usr/local/lib/python3.11/dist-packages/isol8_fixture.py\n");
    const jq = await runIn(tags.bash, {
      runtime: "bash",
      code: `echo '{"a":[1,2]}' | jq -c .a`,
    });
    assert.equal(jq, "[1,2]\n");

    const requestsBefore = pypi.requests.length;
    const second = await setupImages(docker, options);
    for (const tag of Object.values(tags)) {
      const report = second.find((r) => r.image === tag);
      assert.equal(report?.status, "up-to-date", tag);
      assert.equal(report?.id, first.find((r) => r.image === tag)?.id);
    }
    assert.equal(pypi.requests.length, requestsBefore, "an up-to-date image fetches nothing");
  });

  test("changing one runtime's packages rebuilds that image only", async () => {
    const reports = await setupImages(docker, {
      runtimes: ["python", "bash"],
      packages: { python: ["isol8-fixture", "isol8_fixture.two"], bash: ["jq"] },
      registries: { pip: pypi.url },
      imageTags: tags,
      onProgress,
    });
    assert.equal(reports.find((r) => r.image === tags.python)?.status, "built");
    assert.equal(reports.find((r) => r.image === tags.bash)?.status, "up-to-date");
    const out = await runIn(tags.python, {
      runtime: "python",
      code: "import isol8_fixture_two\nprint(isol8_fixture_two.TWICE)",
    });
    assert.equal(out, "84\n");
  });

  test("a failed install is one line naming the package step, and keeps the old image", async () => {
    const before = (await docker.getImage(tags.python).inspect()).Id;
    await assert.rejects(
      setupImages(docker, {
        runtimes: ["python"],
        packages: { python: ["isol8-no-such-package"] },
        registries: { pip: pypi.url },
        imageTags: tags,
        onProgress,
      }),
      (error: unknown) => {
        assert.ok(error instanceof ImageBuildError);
        assert.equal(
          error.message,
          `installing python packages into ${tags.python} failed: ERROR: No matching distribution found for isol8-no-such-package`,
        );
        return true;
      },
    );
    assert.equal((await docker.getImage(tags.python).inspect()).Id, before);
  });
});

describe("custom images with npm packages (FROM the shared runtime images)", () => {
  const registries = () => ({ npm: npm.url });
  const packages = ["isol8-fixture-esm", "@isol8-test/scoped@^3"];

  test("node: importable from ESM (/sandbox/main.mjs) and CommonJS (/sandbox/main.cjs)", async () => {
    const report = await buildCustomImage(docker, {
      runtime: "node",
      packages,
      registries: registries(),
      tag: `${testRepo}:node`,
      onProgress,
    });
    created.add(report.image);
    assert.equal(report.status, "built");
    assert.ok(npm.requests.includes("/isol8-fixture-esm"), npm.requests.join(" "));
    assert.ok(npm.requests.includes("/isol8-fixture-cjs/-/isol8-fixture-cjs-1.0.0.tgz"));

    const esm = await runIn(report.image, {
      runtime: "node",
      code: "import { twice } from 'isol8-fixture-esm';\nimport scoped from '@isol8-test/scoped';\nconsole.log(twice, scoped);",
    });
    assert.equal(esm, "84 scoped\n");
    const cjs = await runIn(report.image, {
      runtime: "node",
      fileExtension: ".cjs",
      code: "const cjs = require('isol8-fixture-cjs');\nimport('isol8-fixture-esm').then((m) => console.log(cjs.answer, m.twice, require.resolve('@isol8-test/scoped')));",
    });
    assert.equal(cjs, "42 84 /opt/isol8/node/node_modules/@isol8-test/scoped/index.js\n");
  });

  test("bun: importable from /sandbox/main.ts", async () => {
    const report = await buildCustomImage(docker, {
      runtime: "bun",
      packages,
      registries: registries(),
      tag: `${testRepo}:bun`,
      onProgress,
    });
    created.add(report.image);
    const out = await runIn(report.image, {
      runtime: "bun",
      code: "import { twice } from 'isol8-fixture-esm';\nimport scoped from '@isol8-test/scoped';\nconst n: number = twice;\nconsole.log(n, scoped);",
    });
    assert.equal(out, "84 scoped\n");
  });

  test("deno: npm: specifiers resolve offline from the baked node_modules", async () => {
    const report = await buildCustomImage(docker, {
      runtime: "deno",
      packages,
      registries: registries(),
      tag: `${testRepo}:deno`,
      onProgress,
    });
    created.add(report.image);
    assert.deepEqual(report.packages, ["npm:isol8-fixture-esm", "npm:@isol8-test/scoped@^3"]);
    const requestsBefore = npm.requests.length;
    const out = await runIn(report.image, {
      runtime: "deno",
      code: [
        "import { twice } from 'npm:isol8-fixture-esm';",
        "import * as pinned from 'npm:isol8-fixture-esm@2.0.0';",
        "import scoped from '@isol8-test/scoped';",
        "const n: number = twice;",
        "console.log(n, pinned.twice === n, scoped);",
      ].join("\n"),
    });
    assert.equal(out, "84 true scoped\n");
    assert.equal(npm.requests.length, requestsBefore, "the sandbox fetched nothing");
  });

  test("node: a failed install names the step and npm's reason", async () => {
    await assert.rejects(
      buildCustomImage(docker, {
        runtime: "node",
        packages: ["isol8-no-such-package"],
        registries: registries(),
        onProgress,
      }),
      (error: unknown) => {
        assert.ok(error instanceof ImageBuildError);
        assert.match(
          error.message,
          /^installing node packages into isol8-custom:[0-9a-f]{16} failed: 404 Not Found - GET http:\/\/127\.0\.0\.1:\d+\/isol8-no-such-package/,
        );
        assert.doesNotMatch(error.message, /\n/);
        return true;
      },
    );
  });
});
