import assert from "node:assert/strict";
import { test } from "node:test";
import { CliError, EXIT } from "../../src/cli/exit-codes.js";
import { reportError } from "../../src/cli/report-error.js";
import { ConfigError, UntrustedConfigError } from "../../src/config/file.js";
import { BuildStepError, ImageBuildError, ImageInputError } from "../../src/images/errors.js";
import * as isol8 from "../../src/index.js";
import { ToolError } from "../../src/mcp/sandboxes.js";
import { RemoteCodeError } from "../../src/remote-code/policy.js";
import { ClientGoneError, HttpError } from "../../src/server/errors.js";

/** Every class the public index exports that makes errors. */
function exportedErrorClasses(): [string, new (...args: never[]) => Error][] {
  const classes: [string, new (...args: never[]) => Error][] = [];
  for (const [name, value] of Object.entries(isol8) as [string, unknown][]) {
    if (typeof value === "function" && value.prototype instanceof Error)
      classes.push([name, value as new (...args: never[]) => Error]);
  }
  return classes;
}

test("the index exports every error a library caller can meet, each with its own stable code", () => {
  const codes = Object.fromEntries(
    exportedErrorClasses().map(([name, ErrorClass]) => {
      const error = Reflect.construct(ErrorClass, ["x", "y"]) as isol8.Isol8Error;
      return [name, error.code];
    }),
  );
  assert.deepEqual(codes, {
    DockerUnavailableError: "DOCKER_UNAVAILABLE",
    FrameTooLargeError: "FRAME_TOO_LARGE",
    ImageNotFoundError: "IMAGE_NOT_FOUND",
    InvalidOptionError: "INVALID_OPTION",
    InvalidRequestError: "INVALID_REQUEST",
    Isol8Error: "ISOL8_ERROR",
    MissingDependencyError: "MISSING_DEPENDENCY",
    ProcessNotFoundError: "PROCESS_NOT_FOUND",
    ProcessStartError: "PROCESS_START_FAILED",
    RemoteError: "REMOTE",
    SandboxEndedError: "SANDBOX_ENDED",
    SandboxFailure: "SANDBOX_FAILURE",
    SandboxFileError: "SANDBOX_FILE",
    SandboxFileNotFoundError: "FILE_NOT_FOUND",
    SandboxFileRefusedError: "FILE_REFUSED",
    SandboxFileTooLargeError: "SANDBOX_FILE_TOO_LARGE",
    SandboxNotFoundError: "SANDBOX_NOT_FOUND",
    UnsupportedByBackendError: "UNSUPPORTED_BY_BACKEND",
    WithheldFileError: "WITHHELD_FILE",
  });
});

test("every exported error class is an Isol8Error, and each but the base is named after itself", () => {
  for (const [name, ErrorClass] of exportedErrorClasses()) {
    const error = Reflect.construct(ErrorClass, ["x", "y"]);
    assert.ok(error instanceof isol8.Isol8Error, `${name} is not an Isol8Error`);
    assert.ok(error instanceof Error, name);
    if (ErrorClass !== isol8.Isol8Error) assert.equal(error.name, name);
  }
});

test("errors the engine throws are instances of the index's classes", async () => {
  assert.throws(
    () => new isol8.DockerIsol8({ timeoutMs: -1 }),
    (error: unknown) =>
      error instanceof isol8.InvalidOptionError &&
      error instanceof isol8.Isol8Error &&
      !(error instanceof isol8.InvalidRequestError) &&
      error.code === "INVALID_OPTION",
  );
  const engine = new isol8.DockerIsol8();
  const run = engine.executeStream({ runtime: "cobol" as isol8.Runtime, code: "x" });
  await assert.rejects(
    run.next(),
    (error: unknown) =>
      error instanceof isol8.InvalidRequestError &&
      error instanceof isol8.InvalidOptionError &&
      error instanceof isol8.Isol8Error &&
      error.code === "INVALID_REQUEST",
  );
  await assert.rejects(
    engine.getFile("/etc/passwd"),
    (error: unknown) => error instanceof isol8.InvalidRequestError,
  );
});

test("the subclasses keep their parents: a file too large is still a file error", () => {
  const error = new isol8.SandboxFileTooLargeError("/sandbox/a", "too large");
  assert.ok(error instanceof isol8.SandboxFileError);
  assert.equal(error.message, "/sandbox/a: too large");
  const remote = new isol8.RemoteError(429, "slow down");
  assert.equal(remote.status, 429);
  assert.equal(remote.message, "slow down");
});

test("the errors the CLI, the server and the MCP server handle themselves are Isol8Errors too", () => {
  const errors = [
    new CliError("x"),
    new ConfigError("x"),
    new UntrustedConfigError("f", [], false),
    new ImageBuildError("x"),
    new BuildStepError("x", "RUN x", "failed", []),
    new ImageInputError("x"),
    new RemoteCodeError("fetch", "x"),
    new HttpError(400, "x"),
    new ClientGoneError(),
    new ToolError("x"),
  ];
  for (const error of errors) assert.ok(error instanceof isol8.Isol8Error, error.constructor.name);
  assert.equal(new Set(errors.map((error) => error.code)).size, errors.length);
});

/** What reportError writes on stderr and returns for `error`. */
function reported(error: unknown): { stderr: string; code: number } {
  const write = process.stderr.write;
  let stderr = "";
  process.stderr.write = ((chunk: string) => {
    stderr += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: reportError(error), stderr };
  } finally {
    process.stderr.write = write;
  }
}

test("the CLI still reports each kind of error as one line with its exit code", () => {
  assert.deepEqual(reported(new isol8.InvalidOptionError("timeoutMs: bad")), {
    stderr: "isol8: timeoutMs: bad\n",
    code: EXIT.usage,
  });
  assert.deepEqual(reported(new isol8.InvalidRequestError("runtime: bad")), {
    stderr: "isol8: runtime: bad\n",
    code: EXIT.usage,
  });
  assert.deepEqual(reported(new ConfigError("config.json: bad key")), {
    stderr: "isol8: config.json: bad key\n",
    code: EXIT.usage,
  });
  const untrusted = reported(new UntrustedConfigError("isol8.config.json", [], false));
  assert.equal(untrusted.code, EXIT.usage);
  assert.match(untrusted.stderr, /^isol8: isol8\.config\.json is a project-local configuration/);
  assert.deepEqual(reported(new isol8.DockerUnavailableError("Docker is not running")), {
    stderr: "isol8: Docker is not running\n",
    code: EXIT.isol8Error,
  });
  assert.deepEqual(reported(new isol8.SandboxFailure("the sandbox died\nmore")), {
    stderr: "isol8: the sandbox died\n",
    code: EXIT.isol8Error,
  });
  assert.deepEqual(reported(new Error("connect ENOENT /var/run/docker.sock")), {
    stderr:
      "isol8: Docker is not reachable (connect ENOENT /var/run/docker.sock). Start the Docker engine and retry.\n",
    code: EXIT.isol8Error,
  });
});
