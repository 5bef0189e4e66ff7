import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createDockerClient } from "../../src/backend/docker/client.js";
import { ownerLabelValue } from "../../src/engine/labels.js";
import { DockerIsol8 } from "../../src/index.js";

const docker = createDockerClient();

/** The isol8 containers this test process made, running or not. */
const ours = () =>
  docker.listContainers({
    all: true,
    filters: { label: ["isol8.managed=true", `isol8.owner=${ownerLabelValue()}`] },
  });

/** Whether a container whose id starts with `prefix` still exists. */
async function exists(prefix: string): Promise<boolean> {
  return (await ours()).some((container) => container.Id.startsWith(prefix));
}

describe("await using", () => {
  test("an engine in `await using` removes every container it made when the block ends", async () => {
    let seen: string[];
    {
      await using isol8 = new DockerIsol8({ poolSize: { clean: 2, dirty: 1 } });
      const result = await isol8.execute({ runtime: "bash", code: "echo hi" });
      assert.equal(result.stdout, "hi\n");
      seen = (await ours()).map((container) => container.Id);
      assert.ok(seen.includes(result.containerId ?? ""), "the run's container is listed");
    }
    const left = (await ours()).filter((container) => seen.includes(container.Id));
    assert.deepEqual(left, [], "no container of the engine outlives its block");
  });

  test("a persistent engine's session container goes with the block", async () => {
    let id: string | undefined;
    {
      await using isol8 = new DockerIsol8({ mode: "persistent" });
      id = (await isol8.execute({ runtime: "bash", code: "echo x > /sandbox/f" })).containerId;
      assert.ok(id && (await exists(id)));
    }
    assert.equal(await exists(id), false);
  });

  test("a streamed run in `await using` is killed with its container when the block ends", async () => {
    await using isol8 = new DockerIsol8({ poolSize: { clean: 0, dirty: 0 } });
    let container = "";
    const started = performance.now();
    {
      await using run = isol8.executeStream({
        runtime: "bash",
        code: 'echo "$HOSTNAME"; sleep 600',
        timeoutMs: 120_000,
      });
      const first = await run.next();
      assert.ok(!first.done && first.value.type === "stdout");
      container = first.value.data.trim();
      assert.match(container, /^[0-9a-f]{12}$/);
      assert.ok(await exists(container), "the run's container is there while it runs");
    }
    assert.equal(await exists(container), false, "the run's container is gone");
    assert.ok(performance.now() - started < 60_000, "the run did not wait for its program");
  });

  test("disposing a streamed run that was never iterated starts nothing", async () => {
    await using isol8 = new DockerIsol8({ poolSize: { clean: 0, dirty: 0 } });
    const before = (await ours()).length;
    {
      await using run = isol8.executeStream({ runtime: "bash", code: "sleep 600" });
      assert.equal(typeof run[Symbol.asyncDispose], "function");
    }
    assert.equal((await ours()).length, before);
  });
});
