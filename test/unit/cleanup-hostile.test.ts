// `isol8 cleanup`'s owner rule against labels someone else wrote: a
// container's label decides for that container alone, a malformed one is
// never taken for a gone owner, and no label value makes the check throw.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ContainerSummary } from "../../src/backend/docker/engine-api/types.js";
import { planCleanup } from "../../src/cli/cleanup-plan.js";
import { ownerLabelValue } from "../../src/engine/labels.js";
import {
  ownerState,
  type ProcessTable,
  parseOwnerLabel,
  thisMachine,
} from "../../src/engine/owner.js";

const BOOT = "0b8f4a3c-2d6e-4c71-9a51-5d2f3c0e1a77";
const SERVER = `here:10:500:${BOOT}`;
const machine: ProcessTable = {
  host: "here",
  bootId: BOOT,
  startTime: (pid) => (pid === 10 ? "500" : null),
  exists: (pid) => pid === 10,
};

const container = (id: string, owner: string | undefined) =>
  ({
    Id: id,
    Labels: owner === undefined ? {} : { "isol8.owner": owner },
  }) as unknown as ContainerSummary;

const MALFORMED = [
  "",
  ":",
  "here",
  "here:",
  ":10",
  "here:0",
  "here:-10",
  "here:010",
  "here:1e3",
  "here:10:500",
  "here:10:500:",
  `here:10::${BOOT}`,
  `here:10:500:${BOOT}:extra`,
  "here:10\n:500",
  "here:\u001b[2J10",
];

test("a malformed owner label is an unknown owner: kept by default, never read as a gone one", () => {
  for (const label of MALFORMED) {
    assert.equal(parseOwnerLabel(label), undefined, JSON.stringify(label));
    assert.deepEqual(ownerState(label, machine), { alive: true, why: "unknown owner" }, label);
  }
});

test("containers labelled by someone else change nothing about a live server's: each is judged by its own label", () => {
  const forged = [
    // The server's own label copied, its pid with another start time, from before a reboot, another host's.
    container("copy", SERVER),
    container("reused", `here:10:499:${BOOT}`),
    container("old-boot", "here:10:500:another-boot"),
    container("elsewhere", "there:10:500:x"),
    container("huge-pid", `here:99999999999999999999:500:${BOOT}`),
    ...MALFORMED.map((label, i) => container(`bad-${i}`, label)),
  ];
  const alone = planCleanup([container("server", SERVER)], machine, false);
  for (const at of [0, forged.length]) {
    const listed = [...forged];
    listed.splice(at, 0, container("server", SERVER));
    const plan = planCleanup(listed, machine, false);
    const ids = (entries: { container: ContainerSummary }[]) => entries.map((e) => e.container.Id);
    assert.deepEqual(ids(plan.remove), ["reused", "old-boot", "huge-pid"]);
    assert.ok(ids(plan.keep).includes("server"));
    assert.deepEqual(
      plan.keep.find((e) => e.container.Id === "server")?.owner,
      alone.keep[0]?.owner,
    );
  }
});

test("on this machine, a pid out of range or this process with another start time is a gone owner, without throwing", () => {
  const [host, pid, start, boot] = ownerLabelValue().split(":");
  assert.equal(Number(pid), process.pid);
  if (start === undefined || boot === undefined) return; // no /proc: nothing more to ask
  assert.deepEqual(ownerState(`${host}:99999999999999999999:${start}:${boot}`, thisMachine), {
    alive: false,
    why: "exited",
  });
  assert.deepEqual(ownerState(`${host}:${pid}:${Number(start) + 1}:${boot}`, thisMachine), {
    alive: false,
    why: "pid reused",
  });
  assert.deepEqual(ownerState(ownerLabelValue(), thisMachine), { alive: true, why: "running" });
});
