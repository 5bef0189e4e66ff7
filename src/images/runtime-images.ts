import type Dockerode from "dockerode";
import type { Runtime } from "../runtimes/runtime.js";
import { type EnsureOptions, type EnsureOutcome, ensureImage } from "./ensure-image.js";
import { BASE_IMAGE, runtimeImage } from "./names.js";
import { type EnginePlatform, fetchPackages, runtimePackages } from "./runtime-packages.js";

/** The command whose success proves a runtime image works (run as uid 100, read-only root). */
export const VERSION_COMMANDS: Record<Runtime, string[]> = {
  python: ["python3", "--version"],
  node: ["node", "--version"],
  bun: ["bun", "--version"],
  deno: ["deno", "--version"],
  bash: ["bash", "--version"],
};

/**
 * Builds one runtime image FROM isol8:base with `sandbox/dockerfiles/<runtime>.Dockerfile`.
 * npm tarballs are fetched only once a build is known to be needed.
 */
export function ensureRuntimeImage(
  docker: Dockerode,
  runtime: Runtime,
  platform: EnginePlatform,
  options: EnsureOptions,
): Promise<EnsureOutcome> {
  const image = runtimeImage(runtime);
  const packages = runtimePackages(runtime, platform);
  return ensureImage(
    docker,
    {
      image,
      runtime,
      dockerfile: `${runtime}.Dockerfile`,
      parent: BASE_IMAGE,
      inputs: {
        packages: packages.map(({ name, version, dir }) => ({ name, version, dir })),
      },
      prepareContext: (contextDir) =>
        fetchPackages(packages, contextDir, image, options.onProgress),
      smokeTest: VERSION_COMMANDS[runtime],
    },
    options,
  );
}
