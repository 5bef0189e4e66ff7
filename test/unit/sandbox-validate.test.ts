// The checks of what callers pass to sandboxes, commands and terminals
// (src/sandbox/validate.ts): the defaults, the bounds (both ends accepted,
// one past refused), and every refusal an InvalidOptionError whose message
// starts with the field it is about.
import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidOptionError } from "../../src/engine/errors.js";
import { MAX_ARG_BYTES } from "../../src/engine/options.js";
import type { CommandOptions, CreateSandboxOptions, PtyOptions } from "../../src/sandbox/types.js";
import {
  commandArgv,
  commandOptions,
  environment,
  processEnvironment,
  processTimeout,
  ptyOptions,
  SANDBOX_PIDS_LIMIT,
  sandboxSettings,
  sandboxTimeout,
  terminalSize,
  workingDirectory,
} from "../../src/sandbox/validate.js";

/** Asserts `work` throws an InvalidOptionError whose message matches `message`. */
function refused(work: () => unknown, message: RegExp): void {
  assert.throws(
    work,
    (error: unknown) => error instanceof InvalidOptionError && message.test(error.message),
    String(message),
  );
}

const settings = (options: unknown) => sandboxSettings(options as CreateSandboxOptions);

test("a sandbox's defaults: python, no env or metadata, 5 minutes, 512 processes", () => {
  const expected = { runtime: "python", env: {}, metadata: {}, timeoutMs: 300_000, pidsLimit: 512 };
  assert.deepEqual(sandboxSettings(undefined), expected);
  assert.deepEqual(sandboxSettings({}), expected);
  assert.equal(SANDBOX_PIDS_LIMIT, 512);
});

test("a sandbox's options as given are kept", () => {
  assert.deepEqual(
    sandboxSettings({
      runtime: "node",
      env: { A: "1" },
      metadata: { owner: "me" },
      timeoutMs: 60_000,
      pidsLimit: 8,
    }),
    {
      runtime: "node",
      env: { A: "1" },
      metadata: { owner: "me" },
      timeoutMs: 60_000,
      pidsLimit: 8,
    },
  );
});

test("createSandbox: options that are not an object, or an unknown option, are refused by name", () => {
  refused(() => settings([]), /^options: must be an object$/);
  refused(() => settings("python"), /^options: must be an object$/);
  refused(
    () => settings({ timeout: 5 }),
    /^timeout: not an option of createSandbox \(runtime, env, metadata, timeoutMs, pidsLimit\)$/,
  );
});

test("createSandbox runtime: one of the runtimes", () => {
  refused(() => settings({ runtime: "cobol" }), /^runtime: "cobol" is not one of /);
  refused(() => settings({ runtime: 5 }), /^runtime: "5" is not one of /);
});

test("createSandbox timeoutMs: a whole number from 1 s to 24 h", () => {
  assert.equal(sandboxSettings({ timeoutMs: 1_000 }).timeoutMs, 1_000);
  assert.equal(sandboxSettings({ timeoutMs: 86_400_000 }).timeoutMs, 86_400_000);
  for (const bad of [999, 86_400_001, 1500.5, "2000", Number.NaN, null])
    refused(
      () => settings({ timeoutMs: bad }),
      /^timeoutMs: .* is not a whole number from 1000 to 86400000$/,
    );
  // The same rule for setTimeout, under the field name its caller gives.
  assert.equal(sandboxTimeout("timeoutMs", undefined), 300_000);
  refused(() => sandboxTimeout("timeoutMs", 10), /^timeoutMs: 10 is not a whole number/);
});

test("createSandbox pidsLimit: a whole number from 1 to 32768", () => {
  assert.equal(sandboxSettings({ pidsLimit: 1 }).pidsLimit, 1);
  assert.equal(sandboxSettings({ pidsLimit: 32_768 }).pidsLimit, 32_768);
  for (const bad of [0, 32_769, 2.5, "8", -1])
    refused(
      () => settings({ pidsLimit: bad }),
      /^pidsLimit: .* is not a whole number from 1 to 32768$/,
    );
});

test("createSandbox env: an object of strings with valid names and no NUL", () => {
  refused(() => settings({ env: "A=1" }), /^env: must be an object of strings$/);
  refused(() => settings({ env: null }), /^env: must be an object of strings$/);
  refused(() => settings({ env: ["A=1"] }), /^env: must be an object of strings$/);
  refused(() => settings({ env: { A: 1 } }), /^env\.A: must be a string$/);
  refused(() => settings({ env: { "1X": "y" } }), /^env: "1X" is not a valid environment/);
  refused(() => settings({ env: { A: "a\0b" } }), /^env\.A: must not contain a NUL character$/);
  // A copy: the caller's object changing later changes nothing.
  const given = { A: "1" };
  const checked = sandboxSettings({ env: given });
  given.A = "2";
  assert.deepEqual(checked.env, { A: "1" });
});

test("environments: one variable within the argument limit, all of them within 512 KiB", () => {
  const name = "V";
  const largest = "x".repeat(MAX_ARG_BYTES - name.length - 1);
  assert.deepEqual(environment("envs", { [name]: largest }), { [name]: largest });
  refused(
    () => environment("envs", { [name]: `${largest}x` }),
    /^envs\.V: \d+ bytes \(NAME=value\) is larger than the limit/,
  );
  const many = Object.fromEntries(
    Array.from({ length: 5 }, (_, i) => [`V${i}`, "x".repeat(120 * 1024)]),
  );
  refused(() => environment("envs", many), /^envs: \d+ bytes in all is larger than the limit/);
});

test("a process's whole environment: its own over the sandbox's, at most 1024 variables in all", () => {
  const variables = (prefix: string, count: number) =>
    Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}${i}`, "x"]));
  assert.deepEqual(processEnvironment("envs", { A: "1", B: "2" }, { B: "3" }), { A: "1", B: "3" });
  const full = processEnvironment("envs", variables("S", 24), variables("P", 1000));
  assert.equal(Object.keys(full).length, 1024);
  // The same names count once.
  assert.equal(
    Object.keys(processEnvironment("envs", variables("V", 1024), variables("V", 1024))).length,
    1024,
  );
  refused(
    () => processEnvironment("envs", variables("S", 24), variables("P", 1001)),
    /^envs: 1025 variables \(with the 24 every process of the sandbox has\) is more than the limit of 1024/,
  );
  refused(() => processEnvironment("env", {}, variables("V", 1025)), /^env: 1025 variables/);
});

test("createSandbox metadata: strings, at most 64 entries and 16 KiB", () => {
  refused(() => settings({ metadata: { a: 1 } }), /^metadata\.a: must be a string$/);
  refused(() => settings({ metadata: "x" }), /^metadata: must be an object of strings$/);
  refused(() => settings({ metadata: null }), /^metadata: must be an object of strings$/);
  const entries = (count: number) =>
    Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, "v"]));
  assert.equal(Object.keys(sandboxSettings({ metadata: entries(64) }).metadata).length, 64);
  refused(
    () => settings({ metadata: entries(65) }),
    /^metadata: 65 entries is more than the limit of 64$/,
  );
  // {"k":"..."}: 8 bytes around the value.
  const fits = { k: "v".repeat(16 * 1024 - 8) };
  assert.deepEqual(sandboxSettings({ metadata: fits }).metadata, fits);
  refused(
    () => settings({ metadata: { k: "v".repeat(16 * 1024 - 7) } }),
    /^metadata: 16385 bytes is larger than the limit of 16384 bytes$/,
  );
});

test("a command string runs in bash; an array runs as it is, copied", () => {
  assert.deepEqual(commandArgv("cmd", "echo hi"), ["/bin/bash", "-c", "echo hi"]);
  const given = ["python3", "-c", "print(1)"];
  const argv = commandArgv("cmd", given);
  assert.deepEqual(argv, given);
  given[0] = "sh";
  assert.equal(argv[0], "python3");
});

test("a command string: not empty or blank, no NUL, within the argument limit", () => {
  refused(() => commandArgv("cmd", ""), /^cmd: must not be empty$/);
  refused(() => commandArgv("cmd", " \n\t"), /^cmd: must not be empty$/);
  refused(() => commandArgv("cmd", "a\0b"), /^cmd: must not contain a NUL character$/);
  assert.equal(commandArgv("cmd", "x".repeat(MAX_ARG_BYTES))[2]?.length, MAX_ARG_BYTES);
  refused(
    () => commandArgv("cmd", "é".repeat(Math.ceil((MAX_ARG_BYTES + 1) / 2))),
    /^cmd: \d+ bytes is larger than the limit of \d+ bytes$/,
  );
});

test("a command array: not empty, at most 256 strings without NUL, each within the limit, naming a program", () => {
  for (const bad of [[], 5, undefined, { 0: "ls" }])
    refused(
      () => commandArgv("cmd", bad),
      /^cmd: must be a command string or a non-empty array of arguments$/,
    );
  assert.equal(commandArgv("cmd", Array(256).fill("a")).length, 256);
  refused(
    () => commandArgv("cmd", Array(257).fill("a")),
    /^cmd: 257 arguments is more than the limit of 256$/,
  );
  refused(() => commandArgv("cmd", ["ls", 5]), /^cmd\[1\]: must be a string$/);
  refused(() => commandArgv("cmd", ["ls", "a\0"]), /^cmd\[1\]: must not contain a NUL character$/);
  assert.equal(commandArgv("cmd", ["ls", "x".repeat(MAX_ARG_BYTES)]).length, 2);
  refused(
    () => commandArgv("cmd", ["ls", "x".repeat(MAX_ARG_BYTES + 1)]),
    /^cmd\[1\]: is larger than the limit of \d+ bytes$/,
  );
  refused(() => commandArgv("cmd", ["", "x"]), /^cmd\[0\]: must name a program$/);
  // Empty arguments after the program are arguments.
  assert.deepEqual(commandArgv("cmd", ["ls", ""]), ["ls", ""]);
});

test("a working directory: /sandbox by default, otherwise an absolute path without NUL, up to 4096 characters", () => {
  assert.equal(workingDirectory(undefined), "/sandbox");
  assert.equal(workingDirectory("/"), "/");
  const longest = `/${"d".repeat(4095)}`;
  assert.equal(workingDirectory(longest), longest);
  for (const bad of ["relative", "", "~/x", "/a\0b", `${longest}d`, 5, null])
    refused(() => workingDirectory(bad), /^cwd: .* is not an absolute path$/);
});

test("a process's timeout: 0 (none) by default, a whole number of ms up to a day", () => {
  assert.equal(processTimeout(undefined), 0);
  assert.equal(processTimeout(0), 0);
  assert.equal(processTimeout(86_400_000), 86_400_000);
  for (const bad of [-1, 86_400_001, 0.5, "100"])
    refused(() => processTimeout(bad), /^timeoutMs: .* is not a whole number from 0 to 86400000$/);
});

test("command options: an object; background and stdin true or false; callbacks functions", () => {
  assert.deepEqual(commandOptions(undefined), {});
  const given: CommandOptions = { background: true, stdin: false, onStdout: () => undefined };
  assert.equal(commandOptions(given), given);
  const options = (value: unknown) => commandOptions(value as CommandOptions);
  refused(() => options("x"), /^options: must be an object$/);
  refused(() => options([]), /^options: must be an object$/);
  refused(() => options({ background: "yes" }), /^background: must be true or false$/);
  refused(() => options({ stdin: 1 }), /^stdin: must be true or false$/);
  refused(() => options({ onStdout: "log" }), /^onStdout: must be a function$/);
  refused(() => options({ onStderr: {} }), /^onStderr: must be a function$/);
});

test("a terminal's size: cols and rows, whole numbers from 1 to 4096", () => {
  assert.deepEqual(terminalSize({ cols: 1, rows: 4096, extra: true }), { cols: 1, rows: 4096 });
  refused(() => terminalSize(undefined), /^size: must be an object with cols and rows$/);
  refused(() => terminalSize([80, 24]), /^size: must be an object with cols and rows$/);
  for (const cols of [0, 4097, 80.5, "80", undefined])
    refused(
      () => terminalSize({ cols, rows: 24 }),
      /^cols: .* is not a whole number from 1 to 4096$/,
    );
  for (const rows of [0, 4097, 24.5, "24", undefined])
    refused(
      () => terminalSize({ cols: 80, rows }),
      /^rows: .* is not a whole number from 1 to 4096$/,
    );
});

test("terminal options: an object with a size; onData a function", () => {
  const given: PtyOptions = { cols: 80, rows: 24, onData: () => undefined };
  assert.equal(ptyOptions(given), given);
  const options = (value: unknown) => ptyOptions(value as PtyOptions);
  refused(() => options(undefined), /^options: must be an object with cols and rows$/);
  refused(() => options({ cols: 80 }), /^rows: undefined is not a whole number/);
  refused(() => options({ cols: 80, rows: 24, onData: "x" }), /^onData: must be a function$/);
});
