// A project-local isol8.config.json (one that came with a cloned repository,
// say) may narrow what isol8 allows but not widen it, unless the user trusts
// that content with `isol8 config trust` or names the file with --config.
// The attack: a planted file asking for the host's network and no system call
// filter, so that code reads a service bound to the host's 127.0.0.1.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CLI, cleanEnv, isol8 } from "../support/cli.js";

const PLANTED = { defaults: { network: "host" }, security: { seccomp: "unconfined" } };
const MARKER = "host-only-service-4f1c";

/** A folder holding this isol8.config.json, as a cloned repository would. */
function repository(config: unknown): { cwd: string; file: string } {
  const cwd = mkdtempSync(join(tmpdir(), "isol8-cloned-"));
  const file = join(cwd, "isol8.config.json");
  writeFileSync(file, JSON.stringify(config));
  return { cwd, file };
}

describe("a project-local configuration file cannot widen what isol8 allows unless trusted", () => {
  let service: Server;
  let port = 0;
  let connections = 0;
  /** Reads the host-only service, then tries unshare(2) (refused by the strict filter). */
  let probe = "";

  before(async () => {
    service = createServer((socket) => {
      connections += 1;
      socket.end(`${MARKER}\n`);
    });
    await new Promise<void>((resolve) => service.listen(0, "127.0.0.1", resolve));
    port = (service.address() as { port: number }).port;
    probe = [
      "import socket, ctypes",
      "try:",
      `    print(socket.create_connection(('127.0.0.1', ${port}), timeout=3).recv(100).decode().strip())`,
      "except OSError as error:",
      "    print('no service', error.errno)",
      "print('unshare', ctypes.CDLL(None, use_errno=True).unshare(0))",
    ].join("\n");
  });
  after(() => new Promise<void>((resolve) => service.close(() => resolve())));

  test("the planted file is refused (exit 2) naming each key and how to trust it; nothing runs", async () => {
    const { cwd, file } = repository(PLANTED);
    const seen = connections;
    const r = await isol8(["run", "-e", probe], { cwd });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `isol8: ${file} is a project-local configuration file that is not trusted, and it widens what isol8 allows: defaults.network "host" (allowed: "none"), security.seccomp "unconfined" (allowed: "strict"). Check it, then trust it with \`isol8 config trust ${file}\` (asked again when it changes), or use it once with --config ${file}\n`,
    );
    assert.equal(connections, seen, "the host-only service was never reached");
  });

  test("isol8 mcp refuses it at start-up the same way", async () => {
    const { cwd } = repository(PLANTED);
    const child = spawn(process.execPath, [CLI, "mcp"], { cwd, env: cleanEnv() });
    // No client: a server that did start sees end of input and exits 0.
    child.stdin.end();
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise((resolve) => child.once("exit", resolve));
    assert.equal(code, 2, stderr);
    assert.match(
      stderr,
      /^isol8: .* widens what isol8 allows: defaults\.network "host" .*isol8 config trust/,
    );
  });

  test("trusted, it applies (and says so); changed, it is refused again; re-trusted, it applies", async () => {
    const { cwd, file } = repository(PLANTED);
    const env = cleanEnv();
    const trust = await isol8(["config", "trust"], { cwd, env });
    assert.equal(trust.code, 0, trust.stderr);
    assert.match(
      trust.stdout,
      /^trusted .*isol8\.config\.json \(sha256 [0-9a-f]{64}\); it may now widen: defaults\.network "host" \(allowed: "none"\), security\.seccomp "unconfined" \(allowed: "strict"\)\n$/,
    );
    const trusted = await isol8(["run", "-e", probe], { cwd, env });
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.equal(trusted.stdout, `${MARKER}\nunshare 0\n`);
    assert.equal(trusted.stderr, `isol8: configuration read from ${file} (project, trusted)\n`);

    writeFileSync(
      file,
      JSON.stringify({ ...PLANTED, defaults: { network: "host", pidsLimit: 500 } }),
    );
    const changed = await isol8(["run", "-e", probe], { cwd, env });
    assert.equal(changed.code, 2);
    assert.match(
      changed.stderr,
      /that changed since you trusted it; it widens what isol8 allows: defaults\.network "host" \(allowed: "none"\), defaults\.pidsLimit 500 \(allowed: 64\), security\.seccomp/,
    );
    assert.equal(changed.stdout, "");

    assert.equal((await isol8(["config", "trust", file], { cwd, env })).code, 0);
    const again = await isol8(["run", "-e", probe], { cwd, env });
    assert.equal(again.stdout, `${MARKER}\nunshare 0\n`);
  });

  test("--config FILE is the user's explicit choice: used without trust, and named on stderr", async () => {
    const { file } = repository(PLANTED);
    const elsewhere = mkdtempSync(join(tmpdir(), "isol8-elsewhere-"));
    const r = await isol8(["run", "--config", file, "-e", probe], { cwd: elsewhere });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${MARKER}\nunshare 0\n`);
    assert.equal(r.stderr, `isol8: configuration read from ${file} (--config)\n`);
  });

  test("a file that only narrows applies without trust, and says so", async () => {
    const { cwd, file } = repository({
      defaults: { network: "none", timeoutMs: 5000, memoryLimit: "128m", readonlyRootFs: true },
      security: { seccomp: "strict" },
    });
    const r = await isol8(["run", "-e", probe, "--timeout", "20000"], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^no service \d+\nunshare -1\n$/);
    assert.equal(r.stderr, `isol8: configuration read from ${file} (project, narrows only)\n`);
  });

  test("what the user's own ~/.isol8/config.json allows, a project file may ask for", async () => {
    const env = cleanEnv();
    mkdirSync(join(env.HOME ?? "", ".isol8"));
    const userFile = join(env.HOME ?? "", ".isol8", "config.json");
    writeFileSync(userFile, JSON.stringify({ defaults: { network: "host", memoryLimit: "1g" } }));
    const { cwd, file } = repository({ defaults: { network: "host", memoryLimit: "768m" } });
    const r = await isol8(["run", "-e", probe], { cwd, env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${MARKER}\nunshare -1\n`);
    assert.equal(
      r.stderr,
      `isol8: configuration read from ${userFile} (user), ${file} (project, narrows only)\n`,
    );
    // Above the user's own limit, it widens again.
    writeFileSync(file, JSON.stringify({ defaults: { memoryLimit: "2g" } }));
    const wider = await isol8(["run", "-e", probe], { cwd, env });
    assert.equal(wider.code, 2);
    assert.match(wider.stderr, /defaults\.memoryLimit "2g" \(allowed: "1g"\)/);
  });

  test("isol8 config trust refuses a missing or invalid file, and trusts nothing then", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "isol8-no-file-"));
    const missing = await isol8(["config", "trust"], { cwd });
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, "isol8: ./isol8.config.json does not exist\n");
    const { cwd: bad } = repository({ defaults: { network: "everywhere" } });
    const invalid = await isol8(["config", "trust"], { cwd: bad });
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /isol8\.config\.json: defaults\.network: /);
  });
});
