import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type PackageIndex, startPythonIndex } from "../fixtures/package-index.js";
import {
  makeTestCa,
  startHttpsUpstream,
  startHttpUpstream,
  type Upstream,
} from "../fixtures/upstreams.js";
import { cleanEnv, isol8 } from "../support/cli.js";

describe("isol8 run: network flags", () => {
  let http: Upstream;
  let https: Upstream;
  let caFile: string;
  let pypi: PackageIndex;
  before(async () => {
    const ca = makeTestCa();
    caFile = join(mkdtempSync(join(tmpdir(), "isol8-cli-ca-")), "ca.pem");
    writeFileSync(caFile, ca.caPem);
    http = await startHttpUpstream();
    https = await startHttpsUpstream(ca);
    pypi = await startPythonIndex([
      {
        name: "isol8-cli-fixture",
        version: "1.0.0",
        modules: { "isol8_cli_fixture.py": "WHO = 'the local index'\n" },
      },
    ]);
  });
  after(async () => {
    await http.close();
    await https.close();
    await pypi.close();
  });

  test("--allow implies --net filtered; --net-log prints each decision on stderr", async () => {
    const result = await isol8([
      "run",
      "--allow",
      `localhost:${http.port}`,
      "--allow",
      "127\\.0\\.0\\.1",
      "--net-log",
      "--cmd",
      `curl -sS http://localhost:${http.port}/cli; echo; curl -sS --fail http://elsewhere.test/ >/dev/null 2>&1 || echo refused`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "upstream says GET /cli body=0\nrefused\n");
    assert.match(
      result.stderr,
      new RegExp(
        `^isol8 net: ALLOW GET localhost:${http.port}/cli \\d+ ms \\d+ B in \\d+ B out$`,
        "m",
      ),
    );
    assert.match(
      result.stderr,
      /^isol8 net: BLOCK GET elsewhere\.test:80\/ \(not on the allow list\)$/m,
    );
  });

  test("--json carries the network log; --ca-cert makes a private CA trusted inside", async () => {
    const url = `https://localhost:${https.port}/tls`;
    const args = [
      "run",
      "--net",
      "filtered",
      "--allow",
      `localhost:${https.port}`,
      "--allow",
      "127\\.0\\.0\\.1",
      "--net-log",
    ];
    const trusted = await isol8([
      ...args,
      "--ca-cert",
      caFile,
      "--json",
      "--cmd",
      `curl -sS --fail ${url}`,
    ]);
    assert.equal(trusted.code, 0, trusted.stderr);
    const result = JSON.parse(trusted.stdout);
    assert.equal(result.stdout, "upstream says GET /tls body=0");
    assert.equal(result.networkLogs[0].method, "CONNECT");
    assert.equal(result.networkLogs[0].action, "ALLOW");
    const untrusted = await isol8([...args, "--cmd", `curl -sS --fail ${url}`]);
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.stderr, /certificate/i);
  });

  test("--install without --net: filtered to the registry, installed from the given index, then run", async () => {
    const result = await isol8([
      "run",
      "--install",
      "isol8-cli-fixture",
      "--pip-index-url",
      pypi.url,
      "--net-log",
      "-e",
      "import isol8_cli_fixture; print('installed from', isol8_cli_fixture.WHO)",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "installed from the local index\n");
    assert.match(
      result.stderr,
      /^isol8 net: ALLOW GET 127\.0\.0\.1:\d+\/simple\/isol8-cli-fixture\//m,
    );
  });

  test("a failed install exits 3 with the installer's message; the program does not run", async () => {
    const result = await isol8([
      "run",
      "--install",
      "isol8-cli-missing",
      "--pip-index-url",
      pypi.url,
      "-e",
      "print('the program ran')",
    ]);
    assert.equal(result.code, 3, result.stderr);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /No matching distribution found for isol8-cli-missing/);
    assert.match(
      result.stderr,
      /^isol8: installing packages failed \(exit \d+\); the program did not run$/m,
    );
  });

  test("a filtered run leaves no gateway socket directory behind", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "isol8-cli-tmp-"));
    const result = await isol8(["run", "--allow", "example\\.test", "--cmd", "true"], {
      env: cleanEnv({ TMPDIR: tmp }),
    });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readdirSync(tmp), []);
  });

  test("bad network input is one line and exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [
        ["--net", "none", "--allow", "x\\.test"],
        /^isol8: --allow\/--deny: need --net filtered \(the network is none\)$/,
      ],
      [
        ["--net", "filtered", "--allow", "("],
        /^isol8: --allow: "\(" is not a valid regular expression/,
      ],
      [["--net", "host", "--net-log"], /^isol8: --net-log: needs --net filtered/],
      [["--net", "wifi"], /^isol8: --net: "wifi" is not one of none, filtered, host$/],
      [
        ["--install", "--index-url=http://x/"],
        /^isol8: installPackages\[0\]: "--index-url=http:\/\/x\/" is not a package name/,
      ],
      [
        ["--ca-cert", "/nonexistent/ca.pem", "--net", "host"],
        /^isol8: --ca-cert: cannot read \/nonexistent\/ca\.pem \(ENOENT\)$/,
      ],
      [
        ["--install", "x", "--pip-index-url", "ftp://x"],
        /^isol8: --pip-index-url: "ftp:\/\/x" is not an http or https URL$/,
      ],
    ];
    for (const [flags, expected] of cases) {
      const result = await isol8(["run", ...flags, "-e", "print(1)"]);
      assert.equal(result.code, 2, `${flags.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr.trim(), expected, flags.join(" "));
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    }
  });
});
