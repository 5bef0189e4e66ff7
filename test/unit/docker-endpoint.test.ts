import assert from "node:assert/strict";
import { homedir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createDockerClient, DockerUnavailableError } from "../../src/backend/docker/client.js";
import { hasTagOrDigest } from "../../src/backend/docker/engine-api/client.js";
import {
  DEFAULT_SOCKET,
  describeEndpoint,
  engineEndpoint,
} from "../../src/backend/docker/engine-api/endpoint.js";
import { queryString } from "../../src/backend/docker/engine-api/transport.js";

test("no DOCKER_HOST is the local socket: /var/run/docker.sock, or Docker Desktop's pipe on Windows", () => {
  assert.deepEqual(engineEndpoint({}, "linux"), { kind: "socket", path: DEFAULT_SOCKET });
  assert.deepEqual(engineEndpoint({ DOCKER_HOST: " " }, "linux"), {
    kind: "socket",
    path: "/var/run/docker.sock",
  });
  assert.deepEqual(engineEndpoint({}, "win32"), { kind: "socket", path: "//./pipe/docker_engine" });
});

test("unix:// and npipe:// name a socket path", () => {
  assert.deepEqual(engineEndpoint({ DOCKER_HOST: "unix:///run/user/1000/docker.sock" }), {
    kind: "socket",
    path: "/run/user/1000/docker.sock",
  });
  assert.deepEqual(engineEndpoint({ DOCKER_HOST: "npipe:////./pipe/docker_engine" }), {
    kind: "socket",
    path: "//./pipe/docker_engine",
  });
  assert.throws(() => engineEndpoint({ DOCKER_HOST: "unix://" }), /names no socket/);
});

test("tcp:// and http:// are plain TCP on 2375 unless a port, TLS variable or https:// asks for TLS", () => {
  assert.deepEqual(engineEndpoint({ DOCKER_HOST: "tcp://10.0.0.5" }), {
    kind: "tcp",
    host: "10.0.0.5",
    port: 2375,
    tls: undefined,
  });
  assert.deepEqual(engineEndpoint({ DOCKER_HOST: "http://docker.internal:4243" }), {
    kind: "tcp",
    host: "docker.internal",
    port: 4243,
    tls: undefined,
  });
  // No scheme is tcp, as in the Docker CLI; an IPv6 literal loses its brackets.
  assert.deepEqual(engineEndpoint({ DOCKER_HOST: "[::1]:2375" }), {
    kind: "tcp",
    host: "::1",
    port: 2375,
    tls: undefined,
  });
  // The engine's certificate is checked in every case (no flag turns it off).
  const files = (dir: string) => ({
    ca: join(dir, "ca.pem"),
    cert: join(dir, "cert.pem"),
    key: join(dir, "key.pem"),
  });
  const home = join(homedir(), ".docker");
  assert.deepEqual(engineEndpoint({ DOCKER_HOST: "tcp://h:2376" }), {
    kind: "tcp",
    host: "h",
    port: 2376,
    tls: files(home),
  });
  assert.deepEqual(engineEndpoint({ DOCKER_HOST: "https://h" }), {
    kind: "tcp",
    host: "h",
    port: 2376,
    tls: files(home),
  });
  assert.deepEqual(
    engineEndpoint({ DOCKER_HOST: "tcp://h", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/certs" }),
    { kind: "tcp", host: "h", port: 2376, tls: files("/certs") },
  );
  assert.deepEqual(engineEndpoint({ DOCKER_HOST: "tcp://h:9999", DOCKER_CERT_PATH: "/certs" }), {
    kind: "tcp",
    host: "h",
    port: 9999,
    tls: files("/certs"),
  });
  // DOCKER_TLS_VERIFY=0 and an empty one ask for nothing.
  for (const value of ["0", ""])
    assert.equal(
      (engineEndpoint({ DOCKER_HOST: "tcp://h", DOCKER_TLS_VERIFY: value }) as { tls?: unknown })
        .tls,
      undefined,
    );
});

test("ssh:// and unknown schemes are refused with a reason; createDockerClient says it as DockerUnavailableError", () => {
  assert.throws(
    () => engineEndpoint({ DOCKER_HOST: "ssh://me@box" }),
    /does not speak ssh.*ssh -L/,
  );
  assert.throws(() => engineEndpoint({ DOCKER_HOST: "fd://" }), /unsupported scheme fd:\/\//);
  assert.throws(() => engineEndpoint({ DOCKER_HOST: "tcp://" }), /DOCKER_HOST tcp:\/\//);
  assert.throws(
    () => createDockerClient({ DOCKER_HOST: "ssh://me@box" }),
    (error: unknown) =>
      error instanceof DockerUnavailableError &&
      /^Docker cannot be used: DOCKER_HOST ssh:\/\/me@box/.test(error.message),
  );
  // TLS files that cannot be read are the same kind of error, said when the client is made.
  assert.throws(
    () =>
      createDockerClient({
        DOCKER_HOST: "tcp://h",
        DOCKER_TLS_VERIFY: "1",
        DOCKER_CERT_PATH: "/nonexistent/certs",
      }),
    (error: unknown) => error instanceof DockerUnavailableError && /ca\.pem/.test(error.message),
  );
});

test("an endpoint is described as the DOCKER_HOST that names it", () => {
  for (const host of [
    "unix:///var/run/docker.sock",
    "npipe:////./pipe/docker_engine",
    "tcp://10.0.0.5:2375",
    "tcp://[::1]:2375",
  ])
    assert.equal(describeEndpoint(engineEndpoint({ DOCKER_HOST: host })), host);
  assert.equal(describeEndpoint(engineEndpoint({ DOCKER_HOST: "tcp://h:2376" })), "https://h:2376");
});

test("queries are Docker's: lists repeat the name, objects go as JSON, nothing for undefined", () => {
  assert.equal(queryString({}), "");
  assert.equal(
    queryString({ all: true, force: false, limit: 3, none: undefined }),
    "?all=true&force=false&limit=3",
  );
  assert.equal(
    queryString({ changes: ['CMD ["bash"]', "LABEL a=b"] }),
    "?changes=CMD+%5B%22bash%22%5D&changes=LABEL+a%3Db",
  );
  const filters = new URLSearchParams(
    queryString({ filters: { label: ["isol8.managed=true"] } }),
  ).get("filters");
  assert.deepEqual(JSON.parse(filters ?? ""), { label: ["isol8.managed=true"] });
});

test("an image reference without tag or digest is told apart from one with (a registry port is no tag)", () => {
  assert.equal(hasTagOrDigest("debian"), false);
  assert.equal(hasTagOrDigest("registry:5000/debian"), false);
  assert.equal(hasTagOrDigest("debian:bookworm-slim"), true);
  assert.equal(hasTagOrDigest("registry:5000/debian:12"), true);
  assert.equal(hasTagOrDigest(`debian@sha256:${"a".repeat(64)}`), true);
});
