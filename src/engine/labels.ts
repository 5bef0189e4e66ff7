import { currentOwner, ownerLabel } from "./owner.js";

/**
 * Labels on every container, network and image isol8 creates. Cleanup and
 * leak checks select on MANAGED and never touch anything without it.
 */
export const LABELS = {
  managed: "isol8.managed",
  /**
   * The process that created a container or network:
   * `<hostname>:<pid>:<start time>:<boot id>` (`src/engine/owner.ts`), so
   * that a reused pid or a reboot is not taken for the owner still running.
   */
  owner: "isol8.owner",
  session: "isol8.session",
  runtime: "isol8.runtime",
  /** SHA-256 of everything an image was built from; equal hash = nothing to rebuild. */
  inputsHash: "isol8.inputs",
} as const;

/** The owner label value for resources created by this process (computed once: it never changes). */
export function ownerLabelValue(): string {
  ownLabel ??= ownerLabel(currentOwner());
  return ownLabel;
}
let ownLabel: string | undefined;

/** Filter for `docker ps`/`images` listing only isol8's resources. */
export const MANAGED_FILTER = { label: [`${LABELS.managed}=true`] };
