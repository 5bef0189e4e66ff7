// Runs last and alone (scripts/test.sh runs it as its own step, after every other file):
// after the whole suite, no container or network isol8 created is left.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createDockerClient } from "../src/backend/docker/client.js";

const docker = createDockerClient();
const before = new Set((process.env.ISOL8_PREEXISTING ?? "").split(",").filter(Boolean));

async function leftovers(): Promise<string[]> {
  const filters = { label: ["isol8.managed=true"] };
  const containers = await docker.listContainers({ all: true, filters });
  const networks = await docker.listNetworks({ filters });
  return [
    ...containers.map((c) => `container ${c.Id.slice(0, 12)} ${c.Image} ${c.State}`),
    ...networks.map((n) => `network ${n.Name}`),
  ].filter((entry) => !before.has(entry.split(" ")[1] ?? ""));
}

test("the suite leaves no isol8 container or network behind", async () => {
  // Docker's AutoRemove may still be finishing the last few.
  const deadline = Date.now() + 15_000;
  let left = await leftovers();
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    left = await leftovers();
  }
  assert.deepEqual(left, []);
});
