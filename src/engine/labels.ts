import { hostname } from "node:os";

/**
 * Labels on every container, network and image isol8 creates. Cleanup and
 * leak checks select on MANAGED and never touch anything without it.
 */
export const LABELS = {
  managed: "isol8.managed",
  /** `<hostname>:<pid>` of the process that created a container or network. */
  owner: "isol8.owner",
  session: "isol8.session",
  runtime: "isol8.runtime",
  /** SHA-256 of everything an image was built from; equal hash = nothing to rebuild. */
  inputsHash: "isol8.inputs",
} as const;

/** The owner label value for resources created by this process. */
export function ownerLabelValue(): string {
  return `${hostname()}:${process.pid}`;
}

/** Filter for `docker ps`/`images` listing only isol8's resources. */
export const MANAGED_FILTER = { label: [`${LABELS.managed}=true`] };
