import type { DockerClient } from "../backend/docker/engine-api/client.js";
import { RUNTIMES, type Runtime } from "../runtimes/runtime.js";
import { ensureBaseImage } from "./base-image.js";
import type { EnsureOptions, EnsureOutcome } from "./ensure-image.js";
import { removeUntagged } from "./image-state.js";
import { normalizePackages, relevantRegistries } from "./packages.js";
import { ensureRootfs } from "./rootfs.js";
import { ensureRuntimeImage } from "./runtime-images.js";
import { detectEnginePlatform } from "./runtime-packages.js";
import type { ImageReport, SetupImagesOptions } from "./types.js";
import { ensureVariantImage, IMAGE_VARIANTS, variantRuntime } from "./variants.js";

/**
 * Makes every isol8 image exist and match its inputs, in dependency order:
 * the Debian rootfs, isol8:base, then one image per runtime, then the
 * requested variants (`variants`, each after its runtime's image, which is
 * then always made too). Images whose
 * `isol8.inputs` label matches are left alone ("up-to-date"), so a second
 * call only inspects images. Returns one report per image, rootfs first.
 */
export async function setupImages(
  docker: DockerClient,
  options: SetupImagesOptions = {},
): Promise<ImageReport[]> {
  const variants = IMAGE_VARIANTS.filter((variant) => options.variants?.includes(variant));
  const runtimes = dedupe([
    ...(options.runtimes ?? RUNTIMES),
    ...variants.map((variant) => variantRuntime(variant)),
  ]);
  // Bad package names and index URLs are refused before anything is built.
  const baked = new Map(
    runtimes.map((runtime) => [
      runtime,
      normalizePackages(runtime, options.packages?.[runtime] ?? []),
    ]),
  );
  for (const runtime of runtimes) relevantRegistries(runtime, options.registries);
  const ensure: EnsureOptions = { force: options.force ?? false, onProgress: options.onProgress };
  const outcomes: EnsureOutcome[] = [];

  try {
    outcomes.push(await ensureRootfs(docker, ensure));
    outcomes.push(await ensureBaseImage(docker, options.caCertificateFiles, ensure));
    if (runtimes.length > 0) {
      const platform = await detectEnginePlatform(docker);
      for (const runtime of runtimes) {
        outcomes.push(
          await ensureRuntimeImage(docker, runtime, platform, ensure, {
            packages: baked.get(runtime) ?? [],
            registries: options.registries,
            image: options.imageTags?.[runtime],
          }),
        );
      }
      for (const variant of variants)
        outcomes.push(await ensureVariantImage(docker, variant, ensure));
    }
  } finally {
    await removeSuperseded(docker, outcomes);
  }
  return outcomes.map((outcome) => outcome.report);
}

function dedupe(runtimes: Runtime[]): Runtime[] {
  return RUNTIMES.filter((runtime) => runtimes.includes(runtime));
}

/**
 * Deletes the images that rebuilt ones replaced, children before parents,
 * when nothing else uses them (no other tag, no container, no child image).
 * One still in use is simply left for `docker image prune`.
 */
async function removeSuperseded(docker: DockerClient, outcomes: EnsureOutcome[]): Promise<void> {
  const superseded = outcomes
    .map((outcome) => outcome.supersededId)
    .filter((id): id is string => id !== undefined)
    .reverse();
  await removeUntagged(docker, superseded);
}
