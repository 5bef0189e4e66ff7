import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DockerIsol8 } from "../../src/engine/docker-isol8.js";
import { registryRules } from "../../src/engine/installs.js";
import { InvalidRequestError } from "../../src/engine/request.js";
import type { DockerIsol8Options } from "../../src/types.js";
import {
  type PackageIndex,
  startNpmRegistry,
  startPythonIndex,
} from "../fixtures/package-index.js";

const NPM_PACKAGE = {
  name: "isol8-greeting",
  version: "1.2.0",
  files: {
    "package.json": JSON.stringify({ name: "isol8-greeting", version: "1.2.0", main: "index.js" }),
    "index.js": "module.exports = (who) => `hello ${who} from the local registry`;\n",
  },
};

/** An engine filtered to nothing: only an install may reach its registry. */
function closedEngine(extra: DockerIsol8Options): DockerIsol8 {
  return new DockerIsol8({
    network: "filtered",
    networkFilter: { whitelist: [] },
    logNetwork: true,
    timeoutMs: 120_000,
    ...extra,
  });
}

describe("installPackages", () => {
  let pypi: PackageIndex;
  let npm: PackageIndex;
  before(async () => {
    pypi = await startPythonIndex([
      { name: "isol8-answer", version: "2.0.0", modules: { "isol8_answer.py": "ANSWER = 42\n" } },
    ]);
    npm = await startNpmRegistry([NPM_PACKAGE]);
  });
  after(async () => {
    await pypi?.close();
    await npm?.close();
  });

  test("python: pip installs from the configured index into /sandbox; the program imports it but cannot reach the index", async () => {
    const isol8 = closedEngine({ registries: { pip: pypi.url } });
    try {
      const code = [
        "import isol8_answer, urllib.request",
        "print('answer', isol8_answer.ANSWER, isol8_answer.__file__)",
        "try:",
        `    urllib.request.urlopen(${JSON.stringify(pypi.url)}, timeout=5)`,
        "    print('index reached')",
        "except Exception as error:",
        "    print('index refused', error)",
      ].join("\n");
      const result = await isol8.execute({
        runtime: "python",
        code,
        installPackages: ["isol8-answer==2.0.0"],
      });
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(
        result.stdout,
        /^answer 42 \/sandbox\/\.packages\/isol8_answer\.py\nindex refused .*403/,
      );
      assert.ok(
        pypi.requests.some((path) => path.startsWith("/files/isol8_answer-2.0.0")),
        pypi.requests.join(),
      );
      const log = result.networkLogs ?? [];
      assert.equal(log.at(-1)?.action, "BLOCK", "the program's own request is refused");
      const installs = log.slice(0, -1);
      assert.ok(installs.length > 0, "the install's own requests went through the gateway");
      assert.ok(
        installs.every((e) => e.action === "ALLOW" && e.host === "127.0.0.1"),
        JSON.stringify(log),
      );
    } finally {
      await isol8.stop();
    }
  });

  test("node, bun and deno install from the configured npm registry", async () => {
    const programs = {
      node: `import greet from "isol8-greeting"; console.log(greet("node"));`,
      bun: `import greet from "isol8-greeting"; console.log(greet("bun"));`,
      deno: `import greet from "npm:isol8-greeting@1.2.0"; console.log(greet("deno"));`,
    } as const;
    for (const [runtime, code] of Object.entries(programs) as [keyof typeof programs, string][]) {
      const isol8 = closedEngine({ registries: { npm: npm.url } });
      try {
        const result = await isol8.execute({
          runtime,
          code,
          installPackages: ["isol8-greeting@1.2.0"],
        });
        assert.equal(result.exitCode, 0, `${runtime}: ${result.stderr}`);
        assert.equal(result.stdout, `hello ${runtime} from the local registry\n`);
      } finally {
        await isol8.stop();
      }
    }
    assert.ok(npm.requests.includes("/isol8-greeting"));
  });

  test("a package the index does not have is an install failure with the installer's message; the program does not run", async () => {
    const isol8 = closedEngine({ registries: { pip: pypi.url } });
    try {
      const result = await isol8.execute({
        runtime: "python",
        code: "print('the program ran')",
        installPackages: ["isol8-no-such-package"],
      });
      assert.equal(result.installFailed, true);
      assert.notEqual(result.exitCode, 0);
      assert.doesNotMatch(result.stdout, /the program ran/);
      assert.match(result.stderr, /No matching distribution found for isol8-no-such-package/);
      const events = [];
      for await (const event of isol8.executeStream({
        runtime: "python",
        code: "print('the program ran')",
        installPackages: ["isol8-no-such-package"],
      }))
        events.push(event);
      assert.ok(events.some((e) => e.type === "stderr" && e.phase === "install"));
      assert.ok(
        events.some((e) => e.type === "error" && /^installing packages failed/.test(e.data)),
      );
    } finally {
      await isol8.stop();
    }
  });

  test("after a failed install the container's next user is back on the engine's own filter", async () => {
    // One container for every run: the one the failed install widened.
    const isol8 = closedEngine({ registries: { pip: pypi.url }, mode: "persistent" });
    try {
      const failed = await isol8.execute({
        runtime: "python",
        code: "print('never')",
        installPackages: ["isol8-no-such-package"],
      });
      assert.equal(failed.installFailed, true);
      const code = `import urllib.request\ntry:\n    urllib.request.urlopen(${JSON.stringify(pypi.url)}, timeout=5)\n    print("reached")\nexcept Exception as e:\n    print("refused", e)`;
      for (let i = 0; i < 3; i++) {
        const next = await isol8.execute({ runtime: "python", code });
        assert.match(next.stdout, /^refused .*403/, next.stdout);
        assert.match(
          next.networkLogs?.[0]?.reason ?? "",
          /not on the allow list|IP-address destinations/,
        );
      }
    } finally {
      await isol8.stop();
    }
  });

  test("an unreachable registry is an install failure, not a hang", async () => {
    const gone = await startNpmRegistry([NPM_PACKAGE]);
    await gone.close();
    const isol8 = closedEngine({ registries: { npm: gone.url }, timeoutMs: 60_000 });
    try {
      const result = await isol8.execute({
        runtime: "node",
        code: "console.log('the program ran')",
        installPackages: ["isol8-greeting"],
      });
      assert.equal(result.installFailed, true);
      assert.match(result.stderr, /npm error/);
      assert.equal(result.timedOut, false);
    } finally {
      await isol8.stop();
    }
  });

  test("the public npm registry through the gateway, with the registry as the only allowed host", async () => {
    const isol8 = new DockerIsol8({
      network: "filtered",
      networkFilter: { whitelist: registryRules("node") },
      logNetwork: true,
      timeoutMs: 120_000,
    });
    try {
      const result = await isol8.execute({
        runtime: "node",
        code: `import isOdd from "is-odd"; console.log(isOdd(3), isOdd(4));`,
        installPackages: ["is-odd@3.0.1"],
      });
      assert.equal(result.exitCode, 0, result.stderr);
      assert.equal(result.stdout, "true false\n");
      const log = result.networkLogs ?? [];
      assert.ok(log.length > 0, "the install went through the gateway");
      assert.ok(
        log.every((e) => e.host === "registry.npmjs.org" && e.action === "ALLOW"),
        JSON.stringify(log),
      );
    } finally {
      await isol8.stop();
    }
  });

  test("bad requests: installer flags, bash, and installs without network are refused before anything runs", async () => {
    const isol8 = closedEngine({});
    try {
      await assert.rejects(
        isol8.execute({
          runtime: "python",
          code: "1",
          installPackages: ["--index-url=http://evil/"],
        }),
        (e: Error) =>
          e instanceof InvalidRequestError &&
          /^installPackages\[0\]: "--index-url=http:\/\/evil\/" is not a package name/.test(
            e.message,
          ),
      );
      await assert.rejects(
        isol8.execute({ runtime: "bash", code: "true", installPackages: ["jq"] }),
        /installPackages: bash has no package installer at run time; bake Debian packages/,
      );
    } finally {
      await isol8.stop();
    }
    const offline = new DockerIsol8({});
    await assert.rejects(
      offline.execute({ runtime: "python", code: "1", installPackages: ["x"] }),
      /installPackages: the engine's network is "none"/,
    );
    await offline.stop();
  });
});
