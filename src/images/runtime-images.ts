import type { DockerClient } from "../backend/docker/engine-api/client.js";
import { runtimeAdapter } from "../runtimes/index.js";
import type { Runtime } from "../runtimes/runtime.js";
import {
  type EnsureOptions,
  type EnsureOutcome,
  ensureImage,
  readShippedFile,
} from "./ensure-image.js";
import type { BuildStepError } from "./errors.js";
import { BASE_IMAGE, runtimeImage } from "./names.js";
import {
  explainInstallFailure,
  installStep,
  type PackageRegistries,
  relevantRegistries,
} from "./packages.js";
import { dockerfilePath } from "./paths.js";
import { type EnginePlatform, fetchPackages, runtimePackages } from "./runtime-packages.js";

/** Packages to bake into a runtime image, and where to build it. */
interface BakeOptions {
  /** Normalized package specs (see normalizePackages); none: the plain runtime image. */
  packages?: readonly string[];
  registries?: PackageRegistries;
  /** Tag to build instead of `isol8:<runtime>` (tests bake into their own images). */
  image?: string;
}

/**
 * Builds one runtime image FROM isol8:base with `sandbox/dockerfiles/<runtime>.Dockerfile`,
 * plus a step installing the baked packages when there are any (they and the
 * registries they come from are then part of the inputs hash).
 * npm tarballs are fetched only once a build is known to be needed.
 */
export async function ensureRuntimeImage(
  docker: DockerClient,
  runtime: Runtime,
  platform: EnginePlatform,
  options: EnsureOptions,
  bake: BakeOptions = {},
): Promise<EnsureOutcome> {
  const image = bake.image ?? runtimeImage(runtime);
  const packages = runtimePackages(runtime, platform);
  const baked = bake.packages ?? [];
  const registries = relevantRegistries(runtime, bake.registries);
  const step = baked.length > 0 ? installStep(runtime, baked, registries) : undefined;
  const dockerfile = await readShippedFile(dockerfilePath(`${runtime}.Dockerfile`));
  const outcome = await ensureImage(
    docker,
    {
      image,
      runtime,
      // Without baked packages the text, and so the hash, is the shipped file's.
      dockerfile: {
        text: step ? `${dockerfile.replace(/\n*$/, "\n")}${step.dockerfile}` : dockerfile,
      },
      parent: BASE_IMAGE,
      inputs: {
        packages: packages.map(({ name, version, dir }) => ({ name, version, dir })),
        ...(step ? { registries } : {}),
      },
      prepareContext: (contextDir) =>
        fetchPackages(packages, contextDir, image, options.onProgress),
      smokeTest: [...runtimeAdapter(runtime).image.versionCommand],
      ...(step
        ? {
            buildArgs: step.buildArgs,
            networkMode: "host" as const,
            explainFailure: (error: BuildStepError) => explainInstallFailure(error, image),
          }
        : {}),
    },
    options,
  );
  return baked.length > 0
    ? { ...outcome, report: { ...outcome.report, packages: [...baked] } }
    : outcome;
}
