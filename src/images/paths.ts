import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The package's `sandbox/` folder (non-TypeScript assets baked into images).
 * This module lives at `src/images/` under tsx and at `dist/images/` after
 * `tsc`; both are two levels below the package root, next to `sandbox/`.
 */
function sandboxDir(): string {
  return fileURLToPath(new URL("../../sandbox/", import.meta.url));
}

/** A Dockerfile shipped in `sandbox/dockerfiles/`, e.g. `base.Dockerfile`. */
export function dockerfilePath(fileName: string): string {
  return join(sandboxDir(), "dockerfiles", fileName);
}

/**
 * The C sources of the in-container supervisor in `sandbox/`, compiled
 * together into one static binary in the base image (see base.Dockerfile).
 */
export const SUPERVISOR_SOURCES = [
  "supervisor.c",
  "supervisor.h",
  "processes.c",
  "egress-forwarder.c",
  "egress-forwarder.h",
  "sandbox-seed.c",
  "sandbox-seed.h",
  "files.c",
] as const;

/** One of SUPERVISOR_SOURCES in the package's `sandbox/` folder. */
export function supervisorSourcePath(name: (typeof SUPERVISOR_SOURCES)[number]): string {
  return join(sandboxDir(), name);
}

/** The interpreters' prestart bootstraps, copied into the base image's /usr/local/lib/isol8/. */
export function bootstrapDir(): string {
  return join(sandboxDir(), "bootstrap");
}
