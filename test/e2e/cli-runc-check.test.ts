// `isol8 setup` and `isol8 serve` check the runc on PATH and warn on stderr,
// without failing, when it lacks the fixes for runc's container breakouts.
// A stand-in `runc` first on PATH prints the version under test.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { cleanEnv, isol8, standInRunc } from "../support/cli.js";
import { serveCli } from "../support/serve-cli.js";

/** Debian 12's runc: the CVE-2024-21626 backport, nothing later. */
const DEBIAN_12 =
  "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4\n";
/** An upstream release with every fix. */
const FIXED = "runc version 1.3.3\ncommit: v1.3.3-0-gd842d771\nspec: 1.2.1\ngo: go1.24.9\n";
const LACKING = ["CVE-2024-45310", "CVE-2025-31133", "CVE-2025-52565", "CVE-2025-52881"];

function withRunc(versionText: string, extra: Record<string, string> = {}) {
  return cleanEnv({ PATH: `${standInRunc(versionText)}:${process.env.PATH}`, ...extra });
}

/** The environment of a setup that stops at the Docker check: nothing is built. */
const NO_DOCKER = { DOCKER_HOST: "unix:///nonexistent/isol8-test/docker.sock" };

function assertWarns(stderr: string, command: "setup" | "serve"): void {
  assert.match(
    stderr,
    new RegExp(
      `^isol8 ${command}: WARNING: the host's runc lacks fixes for container-breakout`,
      "m",
    ),
  );
  for (const id of LACKING)
    assert.match(
      stderr,
      new RegExp(`${id} \\((high|low)\\): no fixed release known for Debian 12`),
    );
  assert.doesNotMatch(stderr, /CVE-2024-21626/, "deb12u1 carries that backport");
  assert.match(stderr, /runc 1\.1\.5\+ds1-1\+deb12u1 \(Debian 12's package\)/);
  assert.match(stderr, /--oci-runtime runsc/);
  assert.match(stderr, /"ociRuntime": "runsc"/);
}

describe("isol8 setup checks the host's runc", () => {
  test("a runc without the fixes: a warning naming the CVEs and gVisor, on stderr, before Docker is contacted", async () => {
    const r = await isol8(["setup", "--runtime", "bash", "--json"], {
      env: withRunc(DEBIAN_12, NO_DOCKER),
    });
    assert.equal(r.code, 125, "it fails only because Docker is not reachable");
    // stdout, which --json keeps for machines, holds the failure's error object and no warning.
    const { error } = JSON.parse(r.stdout) as { error: { code: string; exitCode: number } };
    assert.equal(error.code, "DOCKER_UNAVAILABLE");
    assert.equal(error.exitCode, 125);
    assert.doesNotMatch(r.stdout, /WARNING|CVE/);
    assertWarns(r.stderr, "setup");
    assert.match(r.stderr, /isol8: Docker is not reachable at unix:\/\/\/nonexistent/);
    assert.ok(
      r.stderr.indexOf("WARNING") < r.stderr.indexOf("Docker is not reachable"),
      "the check comes first",
    );
    assert.doesNotMatch(r.stderr, /isol8 serve/);
  });

  test("a fixed runc: no warning", async () => {
    const r = await isol8(["setup", "--runtime", "bash"], { env: withRunc(FIXED, NO_DOCKER) });
    assert.equal(r.code, 125);
    assert.doesNotMatch(r.stderr, /runc|CVE-/);
  });

  test("no runc on PATH, or one that prints no version: no warning", async () => {
    const nothing = mkdtempSync(join(tmpdir(), "isol8-no-runc-"));
    for (const PATH of [nothing, `${standInRunc("")}:${process.env.PATH}`]) {
      const r = await isol8(["setup", "--runtime", "bash"], {
        env: cleanEnv({ PATH, ...NO_DOCKER }),
      });
      assert.equal(r.code, 125, r.stderr);
      assert.doesNotMatch(r.stderr, /runc|CVE-/, PATH);
    }
  });

  test("bad flags are still one line: the check runs after them", async () => {
    const r = await isol8(["setup", "--runtime", "cobol"], { env: withRunc(DEBIAN_12) });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^isol8: --runtime: "cobol" is not one of/);
    assert.doesNotMatch(r.stderr, /WARNING/);
  });
});

describe("isol8 serve checks the host's runc at start-up", () => {
  test("a runc without the fixes: the warning, and that the server has no runtime setting", async () => {
    const served = await serveCli("runc-check-key-0123456789", withRunc(DEBIAN_12));
    try {
      const health = await fetch(`${served.url}/health`);
      assert.equal(health.status, 200, "a warning, not a failure: the server runs");
    } finally {
      await served.stop();
    }
    assertWarns(served.stderr(), "serve");
    assert.match(served.stderr(), /isol8 serve: isol8 serve has no runtime setting/);
  });

  test("with --debug, a runc that is missing is one debug line, not a warning", async () => {
    const nothing = mkdtempSync(join(tmpdir(), "isol8-no-runc-"));
    const served = await serveCli("runc-check-key-0123456789", cleanEnv({ PATH: nothing }), [
      "--debug",
    ]);
    await served.stop();
    assert.match(
      served.stderr(),
      /^isol8 serve: runc check skipped: `runc --version` failed \(.*ENOENT.*\)$/m,
    );
    assert.doesNotMatch(served.stderr(), /CVE-|WARNING/);
  });

  test("a fixed runc: no warning", async () => {
    const served = await serveCli("runc-check-key-0123456789", withRunc(FIXED));
    await served.stop();
    assert.doesNotMatch(served.stderr(), /runc|CVE-|WARNING/);
  });
});
