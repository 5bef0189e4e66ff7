import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseSize } from "../../src/config/sizes.js";
import { DEFAULTS } from "../../src/engine/options.js";
import { cleanEnv, envTrusting, isol8 } from "../support/cli.js";

/** A working directory holding this isol8.config.json. */
function projectWith(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "isol8-config-"));
  writeFileSync(
    join(dir, "isol8.config.json"),
    typeof config === "string" ? config : JSON.stringify(config),
  );
  return dir;
}

const UNSHARE = "import ctypes; print(ctypes.CDLL(None, use_errno=True).unshare(0))";

describe("isol8.config.json", () => {
  test("defaults.timeoutMs applies when --timeout is not given, and the flag wins when it is", async () => {
    const cwd = projectWith({ defaults: { timeoutMs: 1000 } });
    const fromConfig = await isol8(["run", "-e", "import time; time.sleep(20)"], { cwd });
    assert.equal(fromConfig.code, 124);
    assert.match(fromConfig.stderr, /timed out after 1000 ms/);
    const fromFlag = await isol8(
      ["run", "-e", "import time; time.sleep(1.5); print('slept')", "--timeout", "10000"],
      { cwd },
    );
    assert.equal(fromFlag.stdout, "slept\n");
    // A flag wins also when it names the engine's default: nothing mistakes it for one not given.
    const atDefault = await isol8(
      [
        "run",
        "-e",
        "import time; time.sleep(1.5); print('slept')",
        "--timeout",
        `${DEFAULTS.timeoutMs}`,
      ],
      { cwd },
    );
    assert.equal(atDefault.code, 0, atDefault.stderr);
    assert.equal(atDefault.stdout, "slept\n");
  });

  test("security.seccomp from the (trusted) file, overridden by --seccomp", async () => {
    const cwd = projectWith({ security: { seccomp: "unconfined" } });
    const env = await envTrusting(cwd);
    const unconfined = await isol8(["run", "-e", UNSHARE], { cwd, env });
    assert.equal(unconfined.stdout, "0\n");
    const strict = await isol8(["run", "-e", UNSHARE, "--seccomp", "strict"], { cwd, env });
    assert.equal(strict.stdout, "-1\n");
  });

  test("~/.isol8/config.json is used when the working directory has none", async () => {
    const env = cleanEnv();
    mkdirSync(join(env.HOME ?? "", ".isol8"));
    writeFileSync(
      join(env.HOME ?? "", ".isol8", "config.json"),
      JSON.stringify({ defaults: { memoryLimit: "64m" } }),
    );
    const r = await isol8(
      [
        "run",
        "--cmd",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
      ],
      {
        env,
        cwd: mkdtempSync(join(tmpdir(), "isol8-empty-")),
      },
    );
    assert.equal(r.stdout, `${64 * 1024 * 1024}\n`);
    const flag = await isol8(
      [
        "run",
        "--memory",
        DEFAULTS.memoryLimit,
        "--cmd",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
      ],
      { env, cwd: mkdtempSync(join(tmpdir(), "isol8-empty-")) },
    );
    assert.equal(
      flag.stdout,
      `${parseSize(DEFAULTS.memoryLimit)}\n`,
      "--memory wins over the file",
    );
  });

  test("an invalid file is refused with the file, the key and the problem", async () => {
    const cases: [unknown, RegExp][] = [
      [
        { defaults: { memoryLimit: "12xb" } },
        /isol8\.config\.json: defaults\.memoryLimit: not a size/,
      ],
      [{ defaults: { timeoutMs: -5 } }, /isol8\.config\.json: defaults\.timeoutMs: /],
      [{ security: { seccomp: "loose" } }, /isol8\.config\.json: security\.seccomp: /],
      [{ defauts: {} }, /isol8\.config\.json: .*defauts/],
      ["{ not json", /isol8\.config\.json: not valid JSON/],
    ];
    for (const [config, message] of cases) {
      const r = await isol8(["run", "-e", "print(1)"], { cwd: projectWith(config) });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1);
    }
    // Valid, trusted, but naming a profile that does not exist: after the line naming the file.
    const cwd = projectWith({
      security: { seccomp: "custom", customProfilePath: "/nonexistent.json" },
    });
    const r = await isol8(["run", "-e", "print(1)"], { cwd, env: await envTrusting(cwd) });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^isol8: configuration read from .*\n.*cannot read \/nonexistent\.json \(ENOENT\)\n$/,
    );
  });
});

describe("isol8 config", () => {
  test("shows the file it read and the values isol8 run would use; --json for machines", async () => {
    const cwd = projectWith({
      defaults: { timeoutMs: 1234, memoryLimit: "1g" },
      security: { seccomp: "unconfined" },
    });
    const env = await envTrusting(cwd);
    const text = await isol8(["config"], { cwd, env });
    assert.equal(text.code, 0);
    assert.match(text.stdout, /config files: .*isol8\.config\.json \(project, trusted\)/);
    assert.match(text.stdout, /^timeoutMs\s+1234$/m);
    assert.match(text.stdout, /^memoryLimit\s+1g$/m);
    const json = JSON.parse((await isol8(["config", "--json"], { cwd, env })).stdout);
    assert.equal(json.effective.timeoutMs, 1234);
    assert.equal(json.effective.seccomp, "unconfined");
    assert.equal(json.effective.pidsLimit, 64, "defaults fill what the file leaves out");
    const none = JSON.parse(
      (await isol8(["config", "--json"], { cwd: mkdtempSync(join(tmpdir(), "isol8-none-")) }))
        .stdout,
    );
    assert.equal(none.file, null);
    assert.equal(none.effective.timeoutMs, 30000);
  });

  test("the shipped JSON Schema describes every key the loader accepts", async () => {
    const { readFileSync } = await import("node:fs");
    const { configSchema } = await import("../../src/config/file.js");
    const schema = JSON.parse(
      readFileSync(new URL("../../dist/isol8.config.schema.json", import.meta.url), "utf8"),
    );
    assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(configSchema.shape).sort());
    assert.equal(schema.additionalProperties, false);
    assert.deepEqual(schema.properties.security.properties.seccomp.enum, [
      "strict",
      "unconfined",
      "custom",
    ]);
  });
});
