import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import type { ContainerSummary } from "../../src/backend/docker/engine-api/types.js";
import { planCleanup } from "../../src/cli/cleanup-plan.js";
import { ownerLabelValue } from "../../src/engine/labels.js";
import {
  labelNamesProcess,
  ownerLabel,
  ownerState,
  type ProcessTable,
  parseOwnerLabel,
  startTimeFromStat,
  thisMachine,
} from "../../src/engine/owner.js";

const BOOT = "0b8f4a3c-2d6e-4c71-9a51-5d2f3c0e1a77";

/** A machine named `here`, booted as BOOT, whose processes are `running` (pid to start time). */
function table(running: Record<number, string>): ProcessTable {
  return {
    host: "here",
    bootId: BOOT,
    startTime: (pid) => running[pid] ?? null,
    exists: (pid) => pid in running,
  };
}

describe("the owner label", () => {
  test("names host, pid, start time and boot id, and reads back", () => {
    const owner = { host: "here", pid: 42, startTime: "1234", bootId: BOOT };
    assert.equal(ownerLabel(owner), `here:42:1234:${BOOT}`);
    assert.deepEqual(parseOwnerLabel(ownerLabel(owner)), owner);
    assert.deepEqual(parseOwnerLabel("old-host:7"), { host: "old-host", pid: 7 });
    for (const bad of [undefined, "", "here", "here:x", "here:0", "here:1:2", "here:1:2:3:4", ":1"])
      assert.equal(parseOwnerLabel(bad), undefined, String(bad));
  });

  test("this process's label is its own, with its start time from /proc", () => {
    const own = parseOwnerLabel(ownerLabelValue());
    assert.equal(own?.pid, process.pid);
    assert.equal(own?.host, thisMachine.host);
    assert.equal(own?.bootId, readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
    assert.equal(own?.startTime, startTimeFromStat(readFileSync("/proc/self/stat", "utf8")));
    assert.deepEqual(ownerState(ownerLabelValue(), thisMachine), { alive: true, why: "running" });
  });

  test("a label names a process by host and pid, whatever start time it holds", () => {
    assert.equal(labelNamesProcess(`here:42:1234:${BOOT}`, "here", 42), true);
    assert.equal(labelNamesProcess("here:42", "here", 42), true);
    assert.equal(labelNamesProcess(`here:421:1234:${BOOT}`, "here", 42), false);
    assert.equal(labelNamesProcess(`there:42:1234:${BOOT}`, "here", 42), false);
    assert.equal(labelNamesProcess(undefined, "here", 42), false);
  });

  test("the start time is field 22, counted after the command name's last parenthesis", () => {
    const fields = (comm: string) =>
      `17 (${comm}) S 1 17 17 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000 200`;
    assert.equal(startTimeFromStat(fields("node")), "987654");
    assert.equal(startTimeFromStat(fields("a) b (c")), "987654");
    assert.equal(startTimeFromStat("17 (x) S 1"), undefined);
  });
});

describe("whose containers cleanup removes", () => {
  const machine = table({ 10: "500", 11: "600" });
  test("an owner still running is alive; gone, reused or from before a reboot is not", () => {
    assert.deepEqual(ownerState(`here:10:500:${BOOT}`, machine), { alive: true, why: "running" });
    assert.deepEqual(ownerState(`here:12:500:${BOOT}`, machine), { alive: false, why: "exited" });
    assert.deepEqual(ownerState(`here:10:499:${BOOT}`, machine), {
      alive: false,
      why: "pid reused",
    });
    assert.deepEqual(ownerState("here:10:500:another-boot", machine), {
      alive: false,
      why: "rebooted",
    });
  });

  test("what cannot be judged here is alive: another host, no owner, an old label's live pid", () => {
    assert.deepEqual(ownerState(`there:12:1:${BOOT}`, machine), {
      alive: true,
      why: "another host",
    });
    assert.deepEqual(ownerState(undefined, machine), { alive: true, why: "unknown owner" });
    assert.deepEqual(ownerState("here:11", machine), { alive: true, why: "running" });
    assert.deepEqual(ownerState("here:12", machine), { alive: false, why: "exited" });
    const noProc = { ...machine, bootId: undefined };
    assert.deepEqual(ownerState(`here:12:1:${BOOT}`, noProc), { alive: true, why: "cannot tell" });
  });

  test("by default only a gone owner's containers are removed; --all removes the rest too", () => {
    const container = (id: string, owner?: string) =>
      ({
        Id: id,
        Labels: owner ? { "isol8.owner": owner } : {},
      }) as unknown as ContainerSummary;
    const listed = [
      container("live", `here:10:500:${BOOT}`),
      container("dead", `here:12:500:${BOOT}`),
      container("reused", `here:11:1:${BOOT}`),
      container("remote", `there:10:500:${BOOT}`),
      container("unlabelled"),
    ];
    const ids = (entries: { container: ContainerSummary }[]) => entries.map((e) => e.container.Id);
    const plan = planCleanup(listed, machine, false);
    assert.deepEqual(ids(plan.remove), ["dead", "reused"]);
    assert.deepEqual(ids(plan.keep), ["live", "remote", "unlabelled"]);
    const all = planCleanup(listed, machine, true);
    assert.deepEqual(ids(all.remove), ["live", "dead", "reused", "remote", "unlabelled"]);
    assert.deepEqual(all.keep, []);
  });
});
