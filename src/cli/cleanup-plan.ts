import type { ContainerSummary } from "../backend/docker/engine-api/types.js";
import { LABELS } from "../engine/labels.js";
import { type OwnerState, ownerState, type ProcessTable } from "../engine/owner.js";

/** What `isol8 cleanup` will do with each isol8 container, before it does anything. */
export interface CleanupPlan {
  remove: { container: ContainerSummary; owner: OwnerState }[];
  keep: { container: ContainerSummary; owner: OwnerState }[];
}

/**
 * Sorts isol8's containers into those to remove and those to keep. By
 * default only containers whose owning isol8 process is gone are removed
 * (a running server's sessions, another `isol8 run` in progress and
 * another host's containers are kept); `all` removes every one.
 */
export function planCleanup(
  containers: readonly ContainerSummary[],
  table: ProcessTable,
  all: boolean,
): CleanupPlan {
  const plan: CleanupPlan = { remove: [], keep: [] };
  for (const container of containers) {
    const owner = ownerState(container.Labels?.[LABELS.owner], table);
    (all || !owner.alive ? plan.remove : plan.keep).push({ container, owner });
  }
  return plan;
}

/** The reason a kept container is kept, as the summary line says it. */
export function keptReason(owner: OwnerState): string {
  switch (owner.why) {
    case "running":
      return "its isol8 process is running";
    case "another host":
      return "made on another host";
    case "unknown owner":
      return "no isol8 owner label";
    case "cannot tell":
      return "its owner cannot be checked here";
    default:
      return owner.why;
  }
}

/** Why a container is removed, as its line says it. */
export function removedReason(owner: OwnerState): string {
  if (owner.alive) return `--all (${keptReason(owner)})`;
  if (owner.why === "pid reused") return "owner gone (its pid is another process now)";
  if (owner.why === "rebooted") return "owner gone (made before the last reboot)";
  return "owner gone";
}
