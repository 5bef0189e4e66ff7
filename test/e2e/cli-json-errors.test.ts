// `--json` promises JSON on stdout: when isol8 itself fails (a bad flag or
// value, a missing configuration file, Docker out of reach) it prints an
// error object there, with the same exit code and the same line on stderr.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { cleanEnv, isol8 } from "../support/cli.js";

interface JsonError {
  error: { code: string; message: string; exitCode: number };
}

/** The error object a failed command printed, once asserted that it is stdout's only line and says its exit code. */
async function jsonFailure(args: string[], env = cleanEnv()): Promise<JsonError["error"]> {
  const r = await isol8(args, { env });
  assert.notEqual(r.code, 0);
  assert.match(r.stdout, /^\{[^\n]*\}\n$/, `one JSON line on stdout: ${JSON.stringify(r.stdout)}`);
  const { error } = JSON.parse(r.stdout) as JsonError;
  assert.equal(error.exitCode, r.code);
  assert.equal(r.stderr.trimEnd().split("\n").at(-1), `isol8: ${error.message}`);
  return error;
}

describe("--json when isol8 fails", () => {
  test("a flag commander refuses, and a flag value isol8 refuses: USAGE, exit 2", async () => {
    assert.deepEqual(await jsonFailure(["run", "--json", "--bogus", "-e", "1"]), {
      code: "USAGE",
      message: "unknown option '--bogus'",
      exitCode: 2,
    });
    const value = await jsonFailure(["run", "--json", "--timeout", "soon", "-e", "1"]);
    assert.equal(value.code, "USAGE");
    assert.match(value.message, /^--timeout: /);
    assert.equal(value.exitCode, 2);
  });

  test("a configuration file that is not there: CONFIG, exit 2", async () => {
    const error = await jsonFailure(["config", "--json", "--config", "/nonexistent/isol8.json"]);
    assert.equal(error.code, "CONFIG");
    assert.equal(error.exitCode, 2);
  });

  test("Docker out of reach: DOCKER_UNAVAILABLE, exit 125", async () => {
    const env = cleanEnv({ DOCKER_HOST: "unix:///nonexistent/docker.sock" });
    const error = await jsonFailure(["run", "--json", "-e", "print(1)"], env);
    assert.equal(error.code, "DOCKER_UNAVAILABLE");
    assert.equal(error.exitCode, 125);
  });

  test("without --json, or for a command without it, stdout stays empty", async () => {
    const plain = await isol8(["run", "--bogus"]);
    assert.equal(plain.code, 2);
    assert.equal(plain.stdout, "");
    const cleanup = await isol8(["cleanup", "--json"]);
    assert.equal(cleanup.code, 2);
    assert.equal(cleanup.stdout, "");
  });
});
