import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { CliError, EXIT } from "../../src/cli/exit-codes.js";
import { reportError, reportErrorsAsJson } from "../../src/cli/report-error.js";
import { ConfigError } from "../../src/config/file.js";
import { InvalidOptionError, RemoteError } from "../../src/index.js";

/** What reportError prints on stdout and stderr, and the exit code it gives. */
function reported(error: unknown): { stdout: string; stderr: string; code: number } {
  const [out, err] = [process.stdout.write, process.stderr.write];
  let stdout = "";
  let stderr = "";
  process.stdout.write = ((chunk: string) => {
    stdout += chunk;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => {
    stderr += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: reportError(error), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

const jsonOf = (error: unknown) => JSON.parse(reported(error).stdout) as unknown;

describe("--json: isol8's own failures as an error object on stdout", () => {
  afterEach(() => reportErrorsAsJson(false));

  test("without --json, stdout stays empty and stderr has the one line", () => {
    assert.deepEqual(reported(new InvalidOptionError("timeoutMs: bad")), {
      stdout: "",
      stderr: "isol8: timeoutMs: bad\n",
      code: EXIT.usage,
    });
  });

  test("with --json, the same line on stderr and one JSON line on stdout, with the exit code", () => {
    reportErrorsAsJson(true);
    const r = reported(new InvalidOptionError("timeoutMs: bad"));
    assert.equal(r.stderr, "isol8: timeoutMs: bad\n");
    assert.equal(r.code, EXIT.usage);
    assert.match(r.stdout, /^\{.*\}\n$/);
    assert.deepEqual(JSON.parse(r.stdout), {
      error: { code: "INVALID_OPTION", message: "timeoutMs: bad", exitCode: 2 },
    });
  });

  test("the code is the isol8 error's own, also behind a reworded CLI error", () => {
    reportErrorsAsJson(true);
    assert.deepEqual(jsonOf(new ConfigError("config.json: bad key")), {
      error: { code: "CONFIG", message: "config.json: bad key", exitCode: 2 },
    });
    const remote = new RemoteError(503, "busy");
    assert.deepEqual(
      jsonOf(new CliError("server answered 503: busy", EXIT.isol8Error, { cause: remote })),
      { error: { code: "REMOTE", message: "server answered 503: busy", exitCode: 125 } },
    );
    assert.deepEqual(jsonOf(new CliError("--timeout: not a number")), {
      error: { code: "USAGE", message: "--timeout: not a number", exitCode: 2 },
    });
    assert.deepEqual(jsonOf(new Error("connect ENOENT /var/run/docker.sock")), {
      error: {
        code: "DOCKER_UNAVAILABLE",
        message:
          "Docker is not reachable (connect ENOENT /var/run/docker.sock). Start the Docker engine and retry.",
        exitCode: 125,
      },
    });
    assert.deepEqual(jsonOf(new Error("something broke\nat line 2")), {
      error: { code: "ISOL8_ERROR", message: "something broke", exitCode: 125 },
    });
  });
});
