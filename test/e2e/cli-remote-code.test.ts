import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type CodeServer, makeTestCa, startCodeServer } from "../fixtures/upstreams.js";
import { CLI, type CliResult, cleanEnv, isol8 } from "../support/cli.js";
import { sha256 } from "../support/hash.js";

const PYTHON = "import sys\nprint('python from afar', sys.argv[0])\n";
const NODE = "console.log('node from afar', typeof import.meta.url);\n";

describe("isol8 run --url / --github / --gist", () => {
  const dir = mkdtempSync(join(tmpdir(), "isol8-remote-e2e-"));
  const caFile = join(dir, "ca.pem");
  let server: CodeServer;
  let plain: CodeServer;

  before(async () => {
    const ca = makeTestCa();
    writeFileSync(caFile, ca.caPem);
    server = await startCodeServer(
      {
        "/hello.py": { body: PYTHON },
        "/hello.mjs": { body: NODE },
        "/big.py": { body: `# ${"x".repeat(5000)}\n` },
        "/hang.py": { hang: true },
        "/loop.py": { redirect: "/loop.py" },
        "/to-loopback.py": { redirect: "https://127.0.0.2/hello.py" },
        ...Object.fromEntries(
          Array.from({ length: 7 }, (_, i) => [`/r${i}.py`, { redirect: `/r${i + 1}.py` }]),
        ),
      },
      ca,
    );
    plain = await startCodeServer({ "/hello.py": { body: PYTHON } });
  });
  after(async () => {
    await server.close();
    await plain.close();
  });

  /**
   * A working directory whose isol8.config.json has this `remoteCode`, and an
   * environment whose user trusted it (enabling remote code widens what isol8 allows).
   */
  function project(remoteCode?: Record<string, unknown>): {
    cwd: string;
    env: Record<string, string>;
  } {
    const cwd = mkdtempSync(join(dir, "project-"));
    const env = cleanEnv();
    if (remoteCode) {
      writeFileSync(join(cwd, "isol8.config.json"), JSON.stringify({ remoteCode }));
      const trust = spawnSync(process.execPath, [CLI, "config", "trust"], { cwd, env });
      assert.equal(trust.status, 0, String(trust.stderr));
    }
    return { cwd, env };
  }
  const trusted = (extra: Record<string, unknown> = {}) =>
    project({
      enabled: true,
      allowedHosts: ["127\\.0\\.0\\.1"],
      caCertificates: [caFile],
      ...extra,
    });

  /** One line on stderr, `isol8: ` and the message, and the exit code. */
  function refusedWith(r: CliResult, code: number, message: RegExp): void {
    assert.equal(r.code, code, r.stderr);
    assert.equal(r.stdout, "");
    // The line naming the configuration file read comes first; then the one error line.
    const stderr = r.stderr.replace(/^isol8: configuration read from [^\n]*\n/, "");
    assert.equal(stderr.split("\n").length, 2, r.stderr);
    assert.match(stderr, /^isol8: /);
    assert.match(stderr, message);
  }

  test("disabled by default: one line saying how to enable it, and no request", async () => {
    const seen = server.requests.length;
    for (const flag of [
      ["--url", `${server.origin}/hello.py`],
      ["--github", "octocat/hello/main/x.py"],
    ]) {
      const r = await isol8(["run", ...flag], project());
      refusedWith(
        r,
        2,
        new RegExp(
          `^isol8: ${flag[0]}: remote code is disabled; enable it with "remoteCode": \\{ "enabled": true \\} in`,
        ),
      );
    }
    assert.equal(server.requests.length, seen);
  });

  test("fetches and runs python and node, the runtime from the URL's extension", async () => {
    const py = await isol8(["run", "--url", `${server.origin}/hello.py`], trusted());
    assert.equal(py.code, 0, py.stderr);
    assert.equal(py.stdout, "python from afar /sandbox/main.py\n");
    const js = await isol8(["run", "--url", `${server.origin}/hello.mjs`, "--json"], {
      ...trusted(),
    });
    assert.equal(js.code, 0, js.stderr);
    assert.equal(JSON.parse(js.stdout).stdout, "node from afar string\n");
  });

  test("--hash: a match runs, a mismatch is refused before running", async () => {
    const url = `${server.origin}/hello.py`;
    const ok = await isol8(["run", "--url", url, "--hash", sha256(PYTHON)], trusted());
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /python from afar/);
    const bad = await isol8(["run", "--url", url, "--hash", "f".repeat(64)], trusted());
    refusedWith(bad, 2, new RegExp(`hello\\.py has SHA-256 ${sha256(PYTHON)}, not the f{64}`));
    const malformed = await isol8(["run", "--url", url, "--hash", "xyz"], trusted());
    refusedWith(malformed, 2, /^isol8: --hash: "xyz" is not a SHA-256 digest/);
  });

  test("requireHash refuses a URL given without --hash", async () => {
    const r = await isol8(["run", "--url", `${server.origin}/hello.py`], {
      ...trusted({ requireHash: true }),
    });
    refusedWith(r, 2, /remoteCode\.requireHash is set: give the code's SHA-256 with --hash/);
  });

  test("http:// is refused without --allow-insecure-code-url", async () => {
    const url = `${plain.origin}/hello.py`;
    const at = trusted({ allowedSchemes: ["https", "http"] });
    refusedWith(
      await isol8(["run", "--url", url], at),
      2,
      /is plain http, which needs --allow-insecure-code-url; refused$/m,
    );
    assert.equal(plain.requests.length, 0);
    const ok = await isol8(["run", "--url", url, "--allow-insecure-code-url"], at);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /python from afar/);
  });

  test("blocked hosts, hosts not allowed and loopback addresses are refused", async () => {
    const url = `${server.origin}/hello.py`;
    const seen = server.requests.length;
    refusedWith(
      await isol8(["run", "--url", url], trusted({ blockedHosts: ["127\\..*"] })),
      2,
      /blocked by remoteCode\.blockedHosts rule/,
    );
    refusedWith(
      await isol8(["run", "--github", "octocat/hello/main/x.py"], trusted()),
      2,
      /^isol8: --github: https:\/\/raw\.githubusercontent\.com\/octocat\/hello\/main\/x\.py is on raw\.githubusercontent\.com, which is not in remoteCode\.allowedHosts; refused$/m,
    );
    refusedWith(
      await isol8(["run", "--url", url], {
        ...project({ enabled: true, caCertificates: [caFile] }),
      }),
      2,
      new RegExp(
        `^isol8: --url: ${url.replace(/\./g, "\\.")} is on the private address 127\\.0\\.0\\.1; refused$`,
        "m",
      ),
    );
    refusedWith(
      await isol8(["run", "--url", `${server.origin}/to-loopback.py`], trusted()),
      2,
      /\(redirected to https:\/\/127\.0\.0\.2\/hello\.py\) is on the address 127\.0\.0\.2, which no remoteCode\.allowedHosts entry names/,
    );
    // Only the redirect itself was fetched.
    assert.deepEqual(server.requests.slice(seen), ["GET /to-loopback.py"]);
  });

  test("redirect loops, too many redirects, timeouts and 404 fail the fetch (125)", async () => {
    refusedWith(
      await isol8(["run", "--url", `${server.origin}/loop.py`], trusted()),
      125,
      /loop\.py redirects in a loop/,
    );
    refusedWith(
      await isol8(["run", "--url", `${server.origin}/r0.py`], trusted()),
      125,
      /r0\.py \(redirected to .*\/r5\.py\) redirects more than 5 times$/m,
    );
    refusedWith(
      await isol8(["run", "--url", `${server.origin}/hang.py`], {
        ...trusted({ fetchTimeoutMs: 500 }),
      }),
      125,
      /hang\.py did not arrive within 500 ms \(remoteCode\.fetchTimeoutMs\)$/m,
    );
    refusedWith(
      await isol8(["run", "--url", `${server.origin}/missing.py`], trusted()),
      125,
      /missing\.py answered 404 Not Found$/m,
    );
  });

  test("code above maxCodeSize is refused", async () => {
    refusedWith(
      await isol8(["run", "--url", `${server.origin}/big.py`], {
        ...trusted({ maxCodeSize: 1000 }),
      }),
      2,
      /big\.py is 5003 bytes, larger than remoteCode\.maxCodeSize \(1000 bytes\); refused$/m,
    );
  });

  test("NODE_EXTRA_CA_CERTS is trusted as Node trusts it; without a CA the certificate is refused", async () => {
    const at = project({ enabled: true, allowedHosts: ["127\\.0\\.0\\.1"] });
    const url = `${server.origin}/hello.py`;
    refusedWith(
      await isol8(["run", "--url", url], at),
      125,
      /trust its CA with remoteCode\.caCertificates or NODE_EXTRA_CA_CERTS$/m,
    );
    const ok = await isol8(["run", "--url", url], {
      ...at,
      env: { ...at.env, NODE_EXTRA_CA_CERTS: caFile },
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /python from afar/);
  });

  test("one code source only; bad shorthands; --hash alone", async () => {
    const at = trusted();
    const url = `${server.origin}/hello.py`;
    const cases: [string[], RegExp][] = [
      [["-e", "print(1)", "--url", url], /give only one code source, not --url and --eval/],
      [["x.py", "--url", url], /give only one code source, not --url and a file/],
      [["--url", url, "--gist", "abc/x.py"], /give one of --url, --github and --gist/],
      [["--cmd", "ls", "--url", url], /give --cmd alone/],
      [["--hash", "0".repeat(64), "-e", "1"], /--hash needs --url, --github or --gist/],
      [["--github", "octocat/hello"], /--github: "octocat\/hello" is not OWNER\/REPO\/REF\/PATH/],
      [["--gist", "not-hex/x.py"], /--gist: "not-hex\/x\.py" is not GIST_ID\/FILE/],
      [["--url", `${server.origin}/hello.txt`], /cannot tell the runtime .*use --runtime/],
    ];
    for (const [args, message] of cases) refusedWith(await isol8(["run", ...args], at), 2, message);
  });

  test("isol8 config shows the remoteCode values", async () => {
    const r = await isol8(["config", "--json"], trusted({ requireHash: true }));
    const { effective } = JSON.parse(r.stdout);
    assert.equal(effective["remoteCode.enabled"], true);
    assert.equal(effective["remoteCode.requireHash"], true);
    assert.deepEqual(effective["remoteCode.allowedSchemes"], ["https"]);
    assert.equal(effective["remoteCode.maxCodeSize"], 1048576);
  });
});
