import assert from "node:assert/strict";
import { constants } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { test } from "node:test";
import { createDockerClient } from "../../src/backend/docker/client.js";
import { LABELS } from "../../src/engine/labels.js";
import { inspectImage } from "../../src/images/image-state.js";
import {
  BASE_IMAGE,
  ImageBuildError,
  type ImageReport,
  runtimeImage,
  setupImages,
} from "../../src/images/index.js";
import { probeImage } from "../../src/images/probe.js";
import { RUNTIMES, type Runtime } from "../../src/runtimes/runtime.js";

// Real Docker. A fresh machine bootstraps Debian and builds every image
// (a minute or two); afterwards the images are reused.

const docker = createDockerClient();
const verbose = process.env.ISOL8_TEST_VERBOSE === "1";
const onProgress = verbose ? (line: string) => process.stderr.write(`${line}\n`) : undefined;

/** A version command and a one-line program per runtime, run as uid 100 on a read-only root. */
const CHECKS: Record<Runtime, { version: string; program: string[]; expect: string }> = {
  python: {
    version: "python3 --version",
    program: ["python3", "-c", "print(6 * 7)"],
    expect: "42",
  },
  node: { version: "node --version", program: ["node", "-e", "console.log(6 * 7)"], expect: "42" },
  bun: {
    version: "bun --version",
    program: ["bun", "-e", "const n: number = 6 * 7; console.log(n)"],
    expect: "42",
  },
  deno: {
    version: "deno --version",
    program: ["deno", "eval", "const n: number = 6 * 7; console.log(n)"],
    expect: "42",
  },
  bash: { version: "bash --version", program: ["bash", "-c", "echo $((6 * 7))"], expect: "42" },
};

let firstReports: ImageReport[] = [];

function lines(output: string): string[] {
  return output
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

test("setupImages makes the base and every runtime image with isol8 labels; one it calls up to date is the one that was there", async () => {
  const names = [BASE_IMAGE, ...RUNTIMES.map(runtimeImage)];
  const before = new Map(
    await Promise.all(names.map(async (name) => [name, await inspectImage(docker, name)] as const)),
  );
  firstReports = await setupImages(docker, { onProgress });

  const byImage = new Map(firstReports.map((report) => [report.image, report]));
  for (const name of names) {
    const report = byImage.get(name);
    assert.ok(report, `no report for ${name}`);
    const earlier = before.get(name);
    if (report.status === "up-to-date") {
      // Nothing was made: the image is the one there before, built by isol8 from its inputs.
      assert.equal(report.id, earlier?.id, `${name} is up to date but is not the image it was`);
      assert.match(earlier?.inputsHash ?? "", /^[0-9a-f]{64}$/, name);
    } else {
      assert.equal(report.status, "built", name);
      assert.notEqual(report.id, earlier?.id, `${name} was built but is the image it was`);
    }
    assert.match(report.id, /^sha256:[0-9a-f]{64}$/);
    assert.ok(report.sizeBytes > 0);
  }

  const base = await docker.getImage(BASE_IMAGE).inspect();
  assert.equal(base.Config.Labels?.[LABELS.managed], "true");
  assert.match(base.Config.Labels?.[LABELS.inputsHash] ?? "", /^[0-9a-f]{64}$/);

  for (const runtime of RUNTIMES) {
    const info = await docker.getImage(runtimeImage(runtime)).inspect();
    const labels = info.Config.Labels ?? {};
    assert.equal(labels[LABELS.managed], "true", runtime);
    assert.equal(labels[LABELS.runtime], runtime);
    assert.match(labels[LABELS.inputsHash] ?? "", /^[0-9a-f]{64}$/);
    assert.equal(byImage.get(runtimeImage(runtime))?.runtime, runtime);
    assert.equal(byImage.get(runtimeImage(runtime))?.id, info.Id);
  }
});

test("a second setupImages finds every image up to date", async () => {
  const reports = await setupImages(docker);
  assert.deepEqual(
    reports.map((report) => [report.image, report.status]),
    firstReports.map((report) => [report.image, "up-to-date"]),
  );
  assert.deepEqual(
    reports.map((report) => report.id),
    firstReports.map((report) => report.id),
  );
});

for (const runtime of RUNTIMES) {
  test(`${runtime} runs as uid 100 with a read-only root filesystem`, async () => {
    const check = CHECKS[runtime];
    const version = await probeImage(docker, runtimeImage(runtime), [
      "sh",
      "-c",
      `id -u && ${check.version}`,
    ]);
    assert.equal(version.exitCode, 0, version.output);
    const [uid, firstVersionLine] = lines(version.output);
    assert.equal(uid, "100");
    assert.ok(firstVersionLine, `${runtime} printed no version`);

    const program = await probeImage(docker, runtimeImage(runtime), check.program);
    assert.equal(program.exitCode, 0, program.output);
    assert.deepEqual(lines(program.output), [check.expect]);
  });
}

test("the base image has a root-owned supervisor and the sandbox user's home", async () => {
  const result = await probeImage(
    docker,
    BASE_IMAGE,
    ["stat", "-c", "%n %u %g %a", "/usr/local/bin/isol8-supervisor", "/sandbox"],
    { readOnly: false },
  );
  assert.equal(result.exitCode, 0, result.output);
  assert.deepEqual(lines(result.output), [
    "/usr/local/bin/isol8-supervisor 0 0 755",
    "/sandbox 100 100 700",
  ]);

  const user = await probeImage(docker, BASE_IMAGE, ["sh", "-c", "id -un; id -gn; echo $HOME"]);
  assert.deepEqual(lines(user.output), ["sandbox", "users", "/sandbox"]);
});

/** Why the host-bundle test cannot run here, or false when it can. */
const hostBundle = process.env.SSL_CERT_FILE;
const noHostBundle = !hostBundle
  ? "SSL_CERT_FILE is not set: the images trust no bundle of this host's to check"
  : (await access(hostBundle, constants.R_OK).then(
        () => false,
        () => true,
      ))
    ? `SSL_CERT_FILE (${hostBundle}) is not readable, so setup left it out too`
    : false;

test("the base image trusts every certificate of the host's SSL_CERT_FILE", {
  skip: noHostBundle,
}, async () => {
  const bundle = hostBundle as string;
  const bodies = (text: string): Set<string> =>
    new Set(
      [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map(
        (match) => (match[1] ?? "").replace(/[^A-Za-z0-9+/=]/g, ""),
      ),
    );
  const wanted = bodies(await readFile(bundle, "latin1"));
  assert.ok(wanted.size > 0);
  const result = await probeImage(docker, BASE_IMAGE, [
    "cat",
    "/etc/ssl/certs/ca-certificates.crt",
  ]);
  assert.equal(result.exitCode, 0);
  const trusted = bodies(result.output);
  const missing = [...wanted].filter((body) => !trusted.has(body));
  assert.equal(missing.length, 0, `${missing.length} of ${wanted.size} certificates not trusted`);
});

test("an unreadable CA bundle is an ImageBuildError before anything is built", async () => {
  await assert.rejects(
    setupImages(docker, { runtimes: [], caCertificateFiles: ["/nonexistent/isol8-ca.pem"] }),
    (error: unknown) => {
      assert.ok(error instanceof ImageBuildError);
      assert.match(error.message, /\/nonexistent\/isol8-ca\.pem/);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    },
  );
});
