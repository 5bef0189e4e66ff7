// Containers as Docker lists them, always narrowed to what one process
// created (its isol8.owner label) or to one container id: test files run in
// parallel processes, so a test that looked at every isol8 container would
// count, or wait for, another file's.
import { hostname } from "node:os";
import { createDockerClient } from "../../src/backend/docker/client.js";
import type { ContainerSummary } from "../../src/backend/docker/engine-api/types.js";
import { LABELS } from "../../src/engine/labels.js";
import { labelNamesProcess } from "../../src/engine/owner.js";

/** The Docker client tests inspect containers with. */
export const docker = createDockerClient();

/** Containers (running or not) created by the process with this pid, on this host. */
export async function containersOf(pid: number): Promise<ContainerSummary[]> {
  // A process that never got a pid (a `child.pid ?? 0`) owns nothing, which
  // would make every "no container remains" check pass.
  if (!Number.isInteger(pid) || pid <= 0)
    throw new Error(`containersOf: no such process id ${pid}`);
  // Docker matches a label's whole value, which also holds the process's start time and boot id.
  const listed = await docker.listContainers({ all: true, filters: { label: [LABELS.owner] } });
  return listed.filter((c) => labelNamesProcess(c.Labels[LABELS.owner], hostname(), pid));
}

/** Containers (running or not) that engines in this test process created. */
export function ownContainers(): Promise<ContainerSummary[]> {
  return containersOf(process.pid);
}

/** Whether Docker still lists the container with this (short) id, running or not. */
export async function containerExists(shortId: string): Promise<boolean> {
  return (await docker.listContainers({ all: true, filters: { id: [shortId] } })).length > 0;
}
