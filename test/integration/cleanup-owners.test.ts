// `isol8 cleanup`'s choice against Docker: containers labelled as made by a
// live process, a gone one, a pid now held by another process, and another
// host. Every container here carries a label of this test's own, and every
// listing and removal selects on it: other test files run at the same time.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { after, describe, test } from "node:test";
import { containersToClean, removeContainers } from "../../src/cli/commands/cleanup.js";
import { LABELS, ownerLabelValue } from "../../src/engine/labels.js";
import { isol8 } from "../support/cli.js";
import { docker } from "../support/containers.js";

const TEST_LABEL = `isol8.test-cleanup=${randomUUID()}`;
const BOOT = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();

/** A pid that was a process's a moment ago and is no one's now. */
function gonePid(): number {
  const child = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" });
  return Number(child.stdout.trim());
}

const owners = {
  live: ownerLabelValue(),
  gone: `${hostname()}:${gonePid()}:1:${BOOT}`,
  reused: `${hostname()}:${process.pid}:1:${BOOT}`,
  remote: `elsewhere.invalid:${process.pid}:1:${BOOT}`,
};

async function create(owner: string): Promise<string> {
  const [key, value] = TEST_LABEL.split("=") as [string, string];
  const container = await docker.createContainer({
    Image: "isol8:bash",
    Entrypoint: ["sleep", "60"],
    Labels: { [LABELS.managed]: "true", [LABELS.owner]: owner, [key]: value },
    HostConfig: { NetworkMode: "none" },
  });
  return container.id;
}

async function remaining(): Promise<string[]> {
  const listed = await docker.listContainers({ all: true, filters: { label: [TEST_LABEL] } });
  return listed.map((c) => c.Labels[LABELS.owner] ?? "").sort();
}

after(async () => {
  const listed = await docker.listContainers({ all: true, filters: { label: [TEST_LABEL] } });
  await Promise.all(listed.map((c) => docker.getContainer(c.Id).remove({ force: true })));
});

describe("isol8 cleanup against Docker", () => {
  test("by default it removes only containers whose owner is gone; --all the rest", async () => {
    const ids = Object.fromEntries(
      await Promise.all(Object.entries(owners).map(async ([k, v]) => [k, await create(v)])),
    ) as Record<keyof typeof owners, string>;

    const plan = await containersToClean(docker, false, [TEST_LABEL]);
    assert.deepEqual(plan.remove.map((e) => e.container.Id).sort(), [ids.gone, ids.reused].sort());
    assert.deepEqual(
      plan.keep.map((e) => [e.container.Id, e.owner.why]).sort(),
      [
        [ids.live, "running"],
        [ids.remote, "another host"],
      ].sort(),
    );
    assert.equal(await removeContainers(docker, plan), 0);
    assert.deepEqual(await remaining(), [owners.live, owners.remote].sort());

    const all = await containersToClean(docker, true, [TEST_LABEL]);
    assert.deepEqual(all.remove.map((e) => e.container.Id).sort(), [ids.live, ids.remote].sort());
    assert.equal(await removeContainers(docker, all), 0);
    assert.deepEqual(await remaining(), []);
  });

  test("the command lists what it would remove, and why, before it asks (here: refuses, no terminal)", async () => {
    const gone = await create(owners.gone);
    const live = await create(owners.live);
    // Without a terminal and without --force nothing is removed: safe to run
    // beside other test files, whose containers it lists too.
    const asked = await isol8(["cleanup"]);
    assert.equal(asked.code, 2);
    assert.match(
      asked.stdout,
      new RegExp(`^container ${gone.slice(0, 12)} isol8:bash created owner gone$`, "m"),
    );
    assert.doesNotMatch(asked.stdout, new RegExp(live.slice(0, 12)));
    assert.match(
      asked.stdout,
      /^kept \d+ container\(s\): its isol8 process is running \(--all removes them\)$/m,
    );
    assert.match(
      asked.stderr,
      /refusing to remove without confirmation: not a terminal; use --force/,
    );
    const all = await isol8(["cleanup", "--all"]);
    assert.match(
      all.stdout,
      new RegExp(
        `^container ${live.slice(0, 12)} isol8:bash created --all \\(its isol8 process is running\\)$`,
        "m",
      ),
    );
    assert.deepEqual(await remaining(), [owners.gone, owners.live].sort(), "nothing was removed");
  });
});
