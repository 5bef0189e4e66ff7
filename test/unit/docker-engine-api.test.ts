// isol8's Docker Engine API client against a stand-in engine: an HTTP
// server on a unix socket in a temporary folder, answering as Docker does.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, test } from "node:test";
import type { TLSSocket } from "node:tls";
import { ImageNotFoundError } from "../../src/backend/backend.js";
import {
  assertDockerReachable,
  createDockerClient,
  DockerUnavailableError,
} from "../../src/backend/docker/client.js";
import { DockerBackend } from "../../src/backend/docker/docker-backend.js";
import { DockerApiError, hasStatus } from "../../src/backend/docker/engine-api/errors.js";
import {
  eventError,
  type ProgressEvent,
  readProgressStream,
} from "../../src/backend/docker/engine-api/progress.js";
import { API_VERSION } from "../../src/backend/docker/engine-api/transport.js";
import { DockerStdioDemuxer } from "../../src/backend/docker/stdio.js";
import { InvalidOptionError } from "../../src/engine/errors.js";
import { resolveOptions } from "../../src/engine/options.js";
import { makeTestCa } from "../fixtures/upstreams.js";
import {
  json,
  type SeenRequest,
  startDockerStandIn,
  stdioFrame,
} from "../support/docker-stand-in.js";

/** A stand-in engine for one test. */
const standIn = (
  handle: Parameters<typeof startDockerStandIn>[0],
  onUpgrade?: (seen: SeenRequest, socket: Socket) => void,
) => startDockerStandIn(handle, { onUpgrade });

test("requests name the pinned API version, send JSON bodies and read JSON answers", async () => {
  const { docker, seen } = await standIn((one, res) => {
    if (one.url.includes("/containers/create"))
      return json(res, 201, { Id: "c0ffee", Warnings: [] });
    json(res, 200, [{ Id: "c0ffee", Image: "isol8:python", State: "running", Labels: {} }]);
  });
  const container = await docker.createContainer({ Image: "isol8:python", Cmd: ["true"] });
  assert.equal(container.id, "c0ffee");
  const listed = await docker.listContainers({
    all: true,
    filters: { label: ["isol8.managed=true"] },
  });
  assert.deepEqual(
    listed.map((c) => c.Id),
    ["c0ffee"],
  );
  assert.equal(API_VERSION, "1.41");
  assert.equal(seen[0]?.method, "POST");
  assert.equal(seen[0]?.url, "/v1.41/containers/create");
  assert.equal(seen[0]?.headers["content-type"], "application/json");
  assert.deepEqual(JSON.parse(seen[0]?.body ?? ""), { Image: "isol8:python", Cmd: ["true"] });
  const list = new URL(seen[1]?.url ?? "", "http://docker");
  assert.equal(list.pathname, "/v1.41/containers/json");
  assert.equal(list.searchParams.get("all"), "true");
  assert.deepEqual(JSON.parse(list.searchParams.get("filters") ?? ""), {
    label: ["isol8.managed=true"],
  });
});

test("an error answer is a DockerApiError with Docker's status and message, JSON or not", async () => {
  const { docker } = await standIn((one, res) => {
    if (one.url.includes("/images/"))
      return json(res, 404, { message: "No such image: isol8:nope" });
    res.writeHead(500, { "Content-Type": "text/plain" });
    res.end("engine on fire\n");
  });
  await assert.rejects(docker.getImage("isol8:nope").inspect(), (error: unknown) => {
    assert.ok(error instanceof DockerApiError);
    assert.equal(error.statusCode, 404);
    assert.equal(error.message, "No such image: isol8:nope");
    assert.equal(error.request, "GET /images/isol8:nope/json");
    assert.ok(hasStatus(error, 404) && !hasStatus(error, 409));
    return true;
  });
  await assert.rejects(docker.getContainer("abc").remove({ force: true }), {
    name: "DockerApiError",
    statusCode: 500,
    message: "engine on fire",
  });
  assert.equal(hasStatus(Object.assign(new Error("x"), { statusCode: 404 }), 404), false);
});

test("an engine that no longer serves the pinned version is asked again in the oldest one it serves, and from then on", async () => {
  const { docker, seen } = await standIn((one, res) => {
    if (one.url.startsWith("/v1.41/"))
      return json(res, 400, {
        message:
          "client version 1.41 is too old. Minimum supported API version is 1.44, please upgrade your client to a newer version",
      });
    json(res, 200, {
      Version: "29.0.0",
      ApiVersion: "1.52",
      MinAPIVersion: "1.44",
      Arch: "arm64",
      Os: "linux",
    });
  });
  assert.equal((await docker.version()).Arch, "arm64");
  assert.equal((await docker.version()).ApiVersion, "1.52");
  assert.deepEqual(
    seen.map((one) => one.url),
    ["/v1.41/version", "/v1.44/version", "/v1.44/version"],
  );
});

test("an unreachable engine is a DockerUnavailableError naming where it was looked for", async () => {
  const docker = createDockerClient({ DOCKER_HOST: "unix:///nonexistent/isol8-test/docker.sock" });
  await assert.rejects(assertDockerReachable(docker), (error: unknown) => {
    assert.ok(error instanceof DockerUnavailableError);
    assert.match(
      error.message,
      /^Docker is not reachable at unix:\/\/\/nonexistent\/isol8-test\/docker\.sock \(connect ENOENT .*\)\. Start the Docker engine/,
    );
    return true;
  });
  const { docker: up } = await standIn((_one, res) => {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end("OK");
  });
  await assertDockerReachable(up);
});

test("attach hands over the connection: stdin written to it reaches the engine, output Docker sent with its 101 is not lost", async () => {
  const { docker, seen } = await standIn(
    (_one, res) => json(res, 404, { message: "not here" }),
    (_one, socket) => {
      // Docker's answer and the first output can arrive in one packet.
      socket.write(
        Buffer.concat([
          Buffer.from(
            "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
          ),
          stdioFrame(1, "ready\n"),
        ]),
      );
      const input: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => input.push(chunk));
      // Ending our side closes the process's stdin; the engine then ends the stream.
      socket.on("end", () =>
        socket.end(
          Buffer.concat([stdioFrame(1, `got ${Buffer.concat(input)}`), stdioFrame(2, "bye")]),
        ),
      );
    },
  );
  const stream = await docker.getContainer("c0ffee").attach();
  let stdout = "";
  let stderr = "";
  const demuxer = new DockerStdioDemuxer(
    (chunk) => {
      stdout += chunk;
    },
    (chunk) => {
      stderr += chunk;
    },
  );
  const ended = new Promise((resolve) => stream.on("end", resolve));
  stream.on("data", (chunk: Buffer) => demuxer.push(chunk));
  stream.end("hello");
  await ended;
  assert.deepEqual([stdout, stderr], ["ready\ngot hello", "bye"]);
  const url = new URL(seen[0]?.url ?? "", "http://docker");
  assert.equal(url.pathname, "/v1.41/containers/c0ffee/attach");
  assert.deepEqual(Object.fromEntries(url.searchParams), {
    stream: "true",
    stdin: "true",
    stdout: "true",
    stderr: "true",
  });
  assert.equal(seen[0]?.headers.upgrade, "tcp");
  // Refused instead of handed over: the error answer, as for any request.
  await assert.rejects(docker.getContainer("gone").exec({ Cmd: ["true"] }), { statusCode: 404 });
});

test("a wait is aborted by its signal; a container's logs come back as bytes", async () => {
  const { docker, seen } = await standIn((one, res) => {
    if (one.url.includes("/logs")) {
      res.writeHead(200, { "Content-Type": "application/vnd.docker.raw-stream" });
      return res.end(Buffer.concat([stdioFrame(1, "out"), stdioFrame(2, "err")]));
    }
    res.writeHead(200, { "Content-Type": "application/json" }); // and never a body: Docker waits
  });
  const abort = new AbortController();
  const waiting = docker
    .getContainer("c0ffee")
    .wait({ condition: "removed", signal: abort.signal });
  // Aborted once the engine holds the wait (not on a timer, which a loaded machine can beat).
  void (async () => {
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    abort.abort();
  })();
  await assert.rejects(
    waiting,
    (error: unknown) =>
      !(error instanceof DockerApiError) && (error as Error).name === "AbortError",
  );
  assert.match(seen[0]?.url ?? "", /^\/v1\.41\/containers\/c0ffee\/wait\?condition=removed$/);
  const logs = await docker.getContainer("c0ffee").logs({ stdout: true, stderr: true });
  assert.deepEqual(logs, Buffer.concat([stdioFrame(1, "out"), stdioFrame(2, "err")]));
});

test("pull, import and build send what Docker expects: a tag, the archive as the body, JSON-valued parameters", async () => {
  const { docker, seen } = await standIn((_one, res) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end('{"status":"done"}\n');
  });
  await readProgressStream(await docker.pull("debian"), () => undefined);
  await readProgressStream(await docker.pull("debian:bookworm-slim"), () => undefined);
  const tar = Readable.from([Buffer.from("tar bytes, "), Buffer.from("in parts")]);
  await readProgressStream(
    await docker.importImage(tar, {
      repo: "isol8",
      tag: "debian",
      changes: ['CMD ["bash"]', "LABEL a=b"],
    }),
    () => undefined,
  );
  await readProgressStream(
    await docker.buildImage(Readable.from([Buffer.from("context")]), {
      t: "isol8:base",
      labels: { "isol8.managed": "true" },
      nocache: false,
      buildargs: { A: "1" },
    }),
    () => undefined,
  );
  const query = (i: number) => new URL(seen[i]?.url ?? "", "http://docker").searchParams;
  assert.deepEqual(Object.fromEntries(query(0)), { fromImage: "debian", tag: "latest" });
  assert.deepEqual(Object.fromEntries(query(1)), { fromImage: "debian:bookworm-slim" });
  assert.equal(seen[2]?.body, "tar bytes, in parts");
  assert.equal(seen[2]?.headers["content-type"], "application/x-tar");
  assert.equal(query(2).get("fromSrc"), "-");
  assert.deepEqual(query(2).getAll("changes"), ['CMD ["bash"]', "LABEL a=b"]);
  assert.equal(seen[3]?.body, "context");
  assert.match(seen[3]?.url ?? "", /^\/v1\.41\/build\?/);
  assert.deepEqual(JSON.parse(query(3).get("labels") ?? ""), { "isol8.managed": "true" });
  assert.deepEqual(JSON.parse(query(3).get("buildargs") ?? ""), { A: "1" });
  assert.equal(query(3).get("nocache"), "false");
});

test("a progress stream is read line by line across chunks; a line that is not JSON is passed on as text", async () => {
  const events: ProgressEvent[] = [];
  const wire =
    '{"stream":"Step 1/2 : FROM x\\n"}\n\n{"status":"Pulling","id":"ab"}\r\nplain text\n{"errorDetail":{"message":"it broke"},"error":"broke"}';
  // Cut everywhere, a multi-byte character included.
  const text = `${wire}\n{"stream":"é"}`;
  const bytes = Buffer.from(text);
  await readProgressStream(
    Readable.from([
      bytes.subarray(0, 7),
      bytes.subarray(7, bytes.length - 3),
      bytes.subarray(bytes.length - 3),
    ]),
    (event) => events.push(event),
  );
  assert.deepEqual(events, [
    { stream: "Step 1/2 : FROM x\n" },
    { status: "Pulling", id: "ab" },
    { stream: "plain text" },
    { errorDetail: { message: "it broke" }, error: "broke" },
    { stream: "é" },
  ]);
  assert.equal(eventError(events[3] ?? {}), "it broke");
  assert.equal(eventError({ error: "only this" }), "only this");
  assert.equal(eventError(events[0] ?? {}), undefined);
});

test("multiplexed stdio: empty records, records larger than a chunk and several in one chunk", () => {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const demuxer = new DockerStdioDemuxer(
    (chunk) => out.push(chunk),
    (chunk) => err.push(chunk),
  );
  const big = "x".repeat(100_000);
  const wire = Buffer.concat([
    stdioFrame(1, ""),
    stdioFrame(2, "e1"),
    stdioFrame(1, big),
    stdioFrame(2, "e2"),
    stdioFrame(1, "end"),
  ]);
  for (let at = 0; at < wire.length; at += 4096) demuxer.push(wire.subarray(at, at + 4096));
  assert.equal(Buffer.concat(out).toString(), `${big}end`);
  assert.deepEqual(err.map(String), ["e1", "e2"]);
});

test("Docker's refusals of a sandbox become isol8's errors: a missing image, an unknown runtime; others pass as they are", async () => {
  const { docker } = await standIn((one, res) => {
    const image = (JSON.parse(one.body || "{}") as { Image?: string }).Image;
    if (image === "isol8:python") return json(res, 404, { message: "No such image: isol8:python" });
    if (image === "isol8:python-data")
      return json(res, 404, { message: "No such image: isol8:python-data" });
    if (image === "isol8:bash")
      return json(res, 400, { message: "Unknown runtime specified runsc" }); // Docker 20.10's words
    json(res, 500, { message: "no space left on device" });
  });
  const backend = new DockerBackend(docker);
  const spec = (image: string, ociRuntime?: string) => ({
    image,
    hardening: resolveOptions({ ociRuntime }),
    labels: {},
    keep: false,
  });
  await assert.rejects(
    backend.create(spec("isol8:python")),
    (error: unknown) =>
      error instanceof ImageNotFoundError &&
      error.message ===
        "image isol8:python not found; run `isol8 setup` to build the runtime images",
  );
  await assert.rejects(
    backend.create(spec("isol8:python-data")),
    (error: unknown) =>
      error instanceof ImageNotFoundError && /isol8 setup --data-science/.test(error.message),
  );
  await assert.rejects(
    backend.create(spec("isol8:bash", "runsc")),
    (error: unknown) =>
      error instanceof InvalidOptionError &&
      /^ociRuntime: "runsc" is not registered with Docker/.test(error.message),
  );
  await assert.rejects(backend.create(spec("isol8:node")), (error: unknown) =>
    hasStatus(error, 500),
  );
});

test("over TCP with DOCKER_TLS_VERIFY the engine's certificate is checked and the client's from DOCKER_CERT_PATH is shown", async () => {
  const ca = makeTestCa();
  const certs = mkdtempSync(join(tmpdir(), "isol8-engine-certs-"));
  after(() => rmSync(certs, { recursive: true, force: true }));
  writeFileSync(join(certs, "ca.pem"), ca.caPem);
  // The test CA signed one certificate: the engine's, shown here by the client too.
  writeFileSync(join(certs, "cert.pem"), ca.certPem);
  writeFileSync(join(certs, "key.pem"), ca.keyPem);
  const clients: string[] = [];
  const server = createHttpsServer(
    { key: ca.keyPem, cert: ca.certPem, ca: ca.caPem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      clients.push(`${(req.socket as TLSSocket).getPeerCertificate().subject?.CN} ${req.url}`);
      json(res, 200, { Version: "20.10.24", ApiVersion: "1.41", Arch: "amd64", Os: "linux" });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  after(() => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as AddressInfo;
  const env = {
    DOCKER_HOST: `tcp://localhost:${port}`,
    DOCKER_TLS_VERIFY: "1",
    DOCKER_CERT_PATH: certs,
  };
  const docker = createDockerClient(env);
  assert.equal((await docker.version()).Arch, "amd64");
  assert.deepEqual(clients, ["localhost /v1.41/version"]);
  // A remote engine: this machine's folders cannot be mounted.
  assert.equal(new DockerBackend(docker).capabilities.localMounts, false);
  // An engine whose certificate the CA did not sign is refused.
  const other = makeTestCa();
  writeFileSync(join(certs, "ca.pem"), other.caPem);
  await assert.rejects(
    assertDockerReachable(createDockerClient(env)),
    (error: unknown) =>
      error instanceof DockerUnavailableError && /certificate/i.test(error.message),
  );
  assert.equal(clients.length, 1);
});
