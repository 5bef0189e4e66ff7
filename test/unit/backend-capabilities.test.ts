import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type BackendCapabilities,
  type SandboxBackend,
  UnsupportedByBackendError,
} from "../../src/backend/backend.js";
import { createDockerClient } from "../../src/backend/docker/client.js";
import { DockerBackend } from "../../src/backend/docker/docker-backend.js";
import { DockerIsol8 } from "../../src/engine/docker-isol8.js";
import { InvalidOptionError } from "../../src/engine/errors.js";

/** A backend with only the core contract; creating a sandbox with it is a test failure. */
function bareBackend(capabilities: Partial<BackendCapabilities> = {}): SandboxBackend {
  return {
    name: "bare",
    capabilities: {
      hostNetwork: false,
      localMounts: false,
      keepForDebugging: false,
      reattach: false,
      checkpoint: false,
      volumes: false,
      inboundPorts: false,
      liveMetrics: false,
      ...capabilities,
    },
    ping: async () => undefined,
    create: () => assert.fail("no sandbox may be created"),
  };
}

test("an option needing a capability the backend lacks is refused when the engine is made, naming both", () => {
  const cases: [ConstructorParameters<typeof DockerIsol8>[0], RegExp][] = [
    [{ network: "filtered" }, /^network: "filtered" needs a backend .*localMounts.*bare/],
    [{ network: "host" }, /^network: "host" needs a backend .*hostNetwork.*bare/],
    [{ persist: true }, /^persist needs a backend .*keepForDebugging.*bare/],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => new DockerIsol8(options, bareBackend()),
      (error: unknown) =>
        error instanceof UnsupportedByBackendError &&
        error instanceof InvalidOptionError &&
        message.test(error.message),
    );
  }
});

test("the same options are accepted by a backend that has the capability", async () => {
  const backend = bareBackend({ hostNetwork: true, localMounts: true, keepForDebugging: true });
  for (const options of [
    { network: "filtered" as const },
    { network: "host" as const },
    { persist: true },
  ]) {
    const engine = new DockerIsol8(options, backend);
    await engine.stop();
  }
  // The default engine (network none, no persist) needs none of them.
  await new DockerIsol8({}, bareBackend()).stop();
});

test("Docker over a unix socket can mount this machine's directories; over tcp it cannot", () => {
  assert.equal(
    new DockerBackend(createDockerClient({ DOCKER_HOST: "unix:///var/run/docker.sock" }))
      .capabilities.localMounts,
    true,
  );
  const remote = new DockerBackend(createDockerClient({ DOCKER_HOST: "tcp://127.0.0.1:2375" }));
  assert.equal(remote.capabilities.localMounts, false);
  assert.throws(() => new DockerIsol8({ network: "filtered" }, remote), UnsupportedByBackendError);
  // What the Docker backend does not implement is declared absent, never faked.
  for (const capability of ["reattach", "checkpoint", "volumes", "inboundPorts"] as const)
    assert.equal(remote.capabilities[capability], false);
  // Live metrics are Docker's one-shot stats (sandbox.getMetrics).
  assert.equal(remote.capabilities.liveMetrics, true);
});
