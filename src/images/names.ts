import type { Runtime } from "../runtimes/runtime.js";

/** Debian bookworm root filesystem every isol8 image starts from (pulled or bootstrapped). */
export const ROOTFS_IMAGE = "isol8:debian-bookworm";

/** Rootfs + CA trust + the `sandbox` user + the in-container supervisor. */
export const BASE_IMAGE = "isol8:base";

/** The image a runtime's sandboxes run in, e.g. `isol8:python`. */
export function runtimeImage(runtime: Runtime): string {
  return `isol8:${runtime}`;
}
