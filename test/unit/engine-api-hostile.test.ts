// isol8's Docker Engine API client against input meant to break it: names
// that would reach another route or add a query parameter, an engine (or
// whoever answers in its place) sending garbage, endless or oversized
// answers, and a TLS engine whose certificate no trusted CA signed. Each case
// fails safely, and the same client's next request still works.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, test } from "node:test";
import {
  assertDockerReachable,
  createDockerClient,
  DockerUnavailableError,
} from "../../src/backend/docker/client.js";
import { DockerBackend } from "../../src/backend/docker/docker-backend.js";
import {
  MAX_PROGRESS_LINE_CHARS,
  readProgressStream,
} from "../../src/backend/docker/engine-api/progress.js";
import { MAX_RESPONSE_BYTES } from "../../src/backend/docker/engine-api/transport.js";
import {
  DockerStdioDemuxer,
  DockerStdioError,
  MAX_STDIO_RECORD_BYTES,
} from "../../src/backend/docker/stdio.js";
import { resolveOptions } from "../../src/engine/options.js";
import { makeTestCa } from "../fixtures/upstreams.js";
import {
  json,
  type SeenRequest,
  startDockerStandIn,
  stdioFrame,
} from "../support/docker-stand-in.js";

/** A stand-in engine for one test (`/_ping` answered OK, unrecorded). */
const standIn = (
  handle: Parameters<typeof startDockerStandIn>[0],
  onUpgrade?: (seen: SeenRequest, socket: Socket) => void,
) => startDockerStandIn(handle, { onUpgrade, answerPing: true });

const UPGRADED =
  "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n";

/** Writes `chunk` to `res` until the client goes away. */
function sendForever(res: ServerResponse, chunk: Buffer): void {
  const more = () => {
    while (!res.destroyed && res.write(chunk));
  };
  res.on("drain", more);
  more();
}

test("an image name cannot leave its path segment: a `/`, `?`, `#` or `..` stays in the name Docker reads", async () => {
  const { docker, seen } = await standIn((_one, res) => json(res, 404, { message: "no" }));
  const names = [
    "registry.example:5000/team/app:1.0",
    "isol8:bash?force=true&noprune=true",
    "isol8:bash#/../../containers/json",
    "../containers/c0ffee",
    "isol8@sha256:0123",
  ];
  for (const name of names) {
    await assert.rejects(docker.getImage(name).inspect(), { statusCode: 404 });
    await assert.rejects(docker.getImage(name).remove({ force: true }), { statusCode: 404 });
  }
  const prefix = "/v1.41/images/";
  for (const [i, name] of names.entries()) {
    const inspect = new URL(seen[2 * i]?.url ?? "", "http://docker");
    const remove = new URL(seen[2 * i + 1]?.url ?? "", "http://docker");
    assert.equal(inspect.hash, "", name);
    assert.equal(inspect.search, "", `${name}: no query of its own`);
    assert.ok(inspect.pathname.startsWith(prefix) && inspect.pathname.endsWith("/json"));
    assert.equal(decodeURIComponent(inspect.pathname.slice(prefix.length, -"/json".length)), name);
    // One segment: the engine's router sees images/<name>/json, nothing else.
    assert.equal(inspect.pathname.split("/").length, 5, inspect.pathname);
    assert.equal(seen[2 * i + 1]?.method, "DELETE");
    assert.deepEqual(Object.fromEntries(remove.searchParams), { force: "true" }, name);
    assert.equal(decodeURIComponent(remove.pathname.slice(prefix.length)), name);
  }
  // A tag keeps its readable form where it is safe: `:` and `@` are allowed in a segment.
  assert.equal(seen[0]?.url, "/v1.41/images/registry.example:5000%2Fteam%2Fapp:1.0/json");
  await docker.ping();
});

test("a container id and a label filter from a user travel as data, not as path or query syntax", async () => {
  const { docker, seen } = await standIn((one, res) =>
    one.url.includes("/containers/json") ? json(res, 200, []) : json(res, 404, { message: "no" }),
  );
  const id = "../../images/isol8:bash?force=1#";
  await assert.rejects(docker.getContainer(id).remove({ force: true }), { statusCode: 404 });
  const label = "isol8.owner=a&all=1#?x=/../";
  await docker.listContainers({ filters: { label: [label] } });
  const removed = new URL(seen[0]?.url ?? "", "http://docker");
  assert.equal(decodeURIComponent(removed.pathname), `/v1.41/containers/${id}`);
  assert.equal(removed.pathname.split("/").length, 4);
  assert.deepEqual(Object.fromEntries(removed.searchParams), { force: "true" });
  const listed = new URL(seen[1]?.url ?? "", "http://docker");
  assert.deepEqual([...listed.searchParams.keys()], ["filters"]);
  assert.deepEqual(JSON.parse(listed.searchParams.get("filters") ?? ""), { label: [label] });
});

test("multiplexed stdio that is not Docker's is refused at its first bad header, before its payload is waited for", () => {
  const out: string[] = [];
  const err: string[] = [];
  const demuxer = () =>
    new DockerStdioDemuxer(
      (chunk) => out.push(String(chunk)),
      (chunk) => err.push(String(chunk)),
    );
  // An unknown stream id, and nonzero padding: a TTY stream or plain text read as records.
  for (const bad of [stdioFrame(9, "x"), Buffer.from("HTTP/1.1 200 OK\r\n\r\n")]) {
    const one = demuxer();
    assert.throws(() => one.push(bad), DockerStdioError);
    // Broken for good: nothing after it is read as records.
    assert.throws(() => one.push(stdioFrame(1, "late")), DockerStdioError);
  }
  // A record announcing 4 GiB: refused from its 8 header bytes, nothing buffered for it.
  const huge = Buffer.alloc(8);
  huge[0] = 1;
  huge.writeUInt32BE(0xffffffff, 4);
  assert.throws(() => demuxer().push(huge), /record of 4294967295 bytes/);
  const justOver = Buffer.alloc(8);
  justOver[0] = 1;
  justOver.writeUInt32BE(MAX_STDIO_RECORD_BYTES + 1, 4);
  assert.throws(() => demuxer().push(justOver), DockerStdioError);
  // Records up to the limit are read, and the engine's own error stream (3) is not stdout.
  const ok = demuxer();
  ok.push(
    Buffer.concat([stdioFrame(1, "out"), stdioFrame(3, "engine error"), stdioFrame(0, "in")]),
  );
  assert.deepEqual(out, ["out", "in"]);
  assert.deepEqual(err, ["engine error"]);
});

test("a sandbox whose attached stream turns to garbage loses its channel with a reason; an exec stream of garbage is an error", async () => {
  const upgrades: Socket[] = [];
  const { docker } = await standIn(
    (one, res) => {
      if (one.url.includes("/containers/create")) return json(res, 201, { Id: "c0ffee" });
      if (one.url.endsWith("/exec")) return json(res, 201, { Id: "e1" });
      if (one.url.includes("/exec/e1/json")) return json(res, 200, { Running: false, ExitCode: 0 });
      res.writeHead(204);
      res.end();
    },
    (one, socket) => {
      upgrades.push(socket);
      socket.write(UPGRADED);
      // The attach stream: one good record, then a header announcing 2 GiB.
      if (one.url.includes("/attach")) {
        const huge = Buffer.alloc(8);
        huge[0] = 1;
        huge.writeUInt32BE(0x7fffffff, 4);
        socket.write(Buffer.concat([stdioFrame(1, "hello"), huge, Buffer.alloc(1024, 0x41)]));
      } else socket.write(Buffer.from("not multiplexed at all\n")); // exec: never ends by itself
    },
  );
  const backend = new DockerBackend(docker);
  const sandbox = await backend.create({
    image: "isol8:bash",
    hardening: resolveOptions({}),
    labels: {},
    keep: false,
  });
  const frames: string[] = [];
  const reasons: string[] = [];
  const ended = new Promise<void>((resolve) =>
    sandbox.channel.onEnd((reason) => {
      reasons.push(reason);
      resolve();
    }),
  );
  sandbox.channel.onFrames((chunk) => frames.push(String(chunk)));
  await ended;
  assert.deepEqual(frames, ["hello"]);
  assert.match(
    reasons[0] ?? "",
    /^lost the sandbox channel: a multiplexed stdio record of 2147483647 bytes/,
  );
  const started = Date.now();
  await assert.rejects(
    sandbox.exec(["true"], { maxBytes: 1024, timeoutMs: 60_000 }),
    DockerStdioError,
  );
  // At once, not at the exec's deadline.
  assert.ok(Date.now() - started < 10_000);
  for (const socket of upgrades) socket.destroy();
  await docker.ping();
});

test("a progress stream line without end is refused past its limit and the stream is dropped", async () => {
  const { docker } = await standIn((_one, res) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.write('{"stream":"Step 1/1"}\n');
    sendForever(res, Buffer.alloc(64 * 1024, 0x61));
  });
  const response = await docker.buildImage(Readable.from([Buffer.alloc(512)]), { t: "isol8:x" });
  const events: unknown[] = [];
  await assert.rejects(
    readProgressStream(response, (event) => events.push(event)),
    new RegExp(`a line of more than ${MAX_PROGRESS_LINE_CHARS} characters`),
  );
  assert.deepEqual(events, [{ stream: "Step 1/1" }]);
  assert.ok(response.destroyed, "the connection is not read any further");
  await docker.ping();
});

test("an answer without end is refused past its limit, a JSON one as well as a container's logs", async () => {
  const { docker } = await standIn((_one, res) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.write("[");
    sendForever(res, Buffer.from(`${JSON.stringify({ Id: "x".repeat(1000) })},`.repeat(64)));
  });
  const tooLarge = new RegExp(`larger than ${MAX_RESPONSE_BYTES} bytes`);
  await assert.rejects(docker.listContainers({ all: true }), tooLarge);
  await assert.rejects(docker.getContainer("c0ffee").logs({ stdout: true }), tooLarge);
  await docker.ping();
});

test("TLS from DOCKER_CERT_PATH alone, or an https:// DOCKER_HOST, still checks the engine's certificate", async () => {
  const ca = makeTestCa();
  const certs = mkdtempSync(join(tmpdir(), "isol8-engine-certs-"));
  after(() => rmSync(certs, { recursive: true, force: true }));
  writeFileSync(join(certs, "cert.pem"), ca.certPem);
  writeFileSync(join(certs, "key.pem"), ca.keyPem);
  const answered: string[] = [];
  const server = createHttpsServer({ key: ca.keyPem, cert: ca.certPem }, (req, res) => {
    answered.push(req.url ?? "");
    json(res, 200, { Version: "20.10.24", ApiVersion: "1.41", Arch: "amd64", Os: "linux" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  after(() => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as AddressInfo;
  const environments = [
    { DOCKER_HOST: `tcp://localhost:${port}`, DOCKER_CERT_PATH: certs },
    { DOCKER_HOST: `https://localhost:${port}`, DOCKER_CERT_PATH: certs },
    { DOCKER_HOST: `tcp://localhost:${port}`, DOCKER_CERT_PATH: certs, DOCKER_TLS_VERIFY: "0" },
  ];
  // An engine (or whoever is on the path) whose certificate the trusted CA did not sign.
  writeFileSync(join(certs, "ca.pem"), makeTestCa().caPem);
  for (const env of environments)
    await assert.rejects(
      assertDockerReachable(createDockerClient(env)),
      (error: unknown) =>
        error instanceof DockerUnavailableError && /certificate/i.test(error.message),
      env.DOCKER_HOST,
    );
  assert.deepEqual(answered, [], "no request reached it");
  // The CA that signed it: the same settings connect.
  writeFileSync(join(certs, "ca.pem"), ca.caPem);
  for (const env of environments)
    assert.equal((await createDockerClient(env).version()).Arch, "amd64");
  assert.equal(answered.length, environments.length);
});
