import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DockerClient } from "../backend/docker/engine-api/client.js";
import { LABELS } from "../engine/labels.js";
import type { Runtime } from "../runtimes/runtime.js";
import { dockerBuild } from "./build.js";
import { BuildStepError, ImageBuildError, lastLines, reasonOf } from "./errors.js";
import { inspectImage, removeUntagged } from "./image-state.js";
import { inputsHash } from "./inputs-hash.js";
import { dockerfilePath } from "./paths.js";
import { probeImage } from "./probe.js";
import type { ImageReport, ProgressSink } from "./types.js";

/** How to build one image FROM another with a Dockerfile from `sandbox/dockerfiles/` (or a generated one). */
interface ImageRecipe {
  image: string;
  runtime?: Runtime;
  /** File name in `sandbox/dockerfiles/`, or the text of a generated Dockerfile. */
  dockerfile: string | { text: string };
  /** The image the Dockerfile builds FROM; its id is part of the inputs hash. */
  parent: string;
  /** Everything else the image is built from (file hashes, package names and versions). */
  inputs: Record<string, unknown>;
  /** Writes the files the Dockerfile copies into the context; runs only when building. */
  prepareContext?: (contextDir: string) => Promise<void>;
  /** A command that must exit 0 in the new image, run as the sandbox user with a read-only root. */
  smokeTest?: string[];
  /** Values of the Dockerfile's `ARG`s (hash them through `inputs` when they matter). */
  buildArgs?: Record<string, string>;
  /** `host` when RUN steps must reach the host's network (package installs). */
  networkMode?: "host";
  /** Turns a failed step into a one-line message, for steps the recipe generated; undefined: the builder's message. */
  explainFailure?: (error: BuildStepError) => string | undefined;
}

export interface EnsureOptions {
  force: boolean;
  onProgress: ProgressSink;
}

export interface EnsureOutcome {
  report: ImageReport;
  /** The id of the image this build replaced under the same tag, if any. */
  supersededId?: string;
}

/** Builds `recipe.image` unless an image with the same inputs hash exists. */
export async function ensureImage(
  docker: DockerClient,
  recipe: ImageRecipe,
  options: EnsureOptions,
): Promise<EnsureOutcome> {
  const started = performance.now();
  const seconds = (): number => Math.round((performance.now() - started) / 10) / 100;
  const { image } = recipe;
  const { onProgress } = options;

  const dockerfileText =
    typeof recipe.dockerfile === "string"
      ? await readShippedFile(dockerfilePath(recipe.dockerfile))
      : recipe.dockerfile.text;
  const parent = await inspectImage(docker, recipe.parent);
  if (!parent) {
    throw new ImageBuildError(
      `Cannot build ${image}: its parent image ${recipe.parent} is missing.`,
    );
  }
  const hash = inputsHash({
    image,
    dockerfile: dockerfileText,
    parentId: parent.id,
    ...recipe.inputs,
  });
  const existing = await inspectImage(docker, image);
  if (existing && existing.inputsHash === hash && !options.force) {
    return {
      report: withRuntime(recipe.runtime, {
        image,
        status: "up-to-date",
        sizeBytes: existing.sizeBytes,
        id: existing.id,
        seconds: seconds(),
      }),
    };
  }

  onProgress?.(`[${image}] building (${existing ? "inputs changed" : "not present"})`);
  const contextDir = await mkdtemp(join(tmpdir(), "isol8-build-"));
  try {
    await writeFile(join(contextDir, "Dockerfile"), dockerfileText);
    await recipe.prepareContext?.(contextDir);
    const labels: Record<string, string> = {
      [LABELS.managed]: "true",
      [LABELS.inputsHash]: hash,
    };
    if (recipe.runtime) labels[LABELS.runtime] = recipe.runtime;
    let stageImageIds: string[];
    try {
      ({ stageImageIds } = await dockerBuild(docker, {
        image,
        contextDir,
        labels,
        nocache: options.force,
        onProgress,
        buildArgs: recipe.buildArgs,
        networkMode: recipe.networkMode,
      }));
    } catch (error) {
      const explained =
        error instanceof BuildStepError ? recipe.explainFailure?.(error) : undefined;
      throw explained === undefined ? error : new ImageBuildError(explained);
    }
    await removeUntagged(docker, stageImageIds);
  } finally {
    await rm(contextDir, { recursive: true, force: true });
  }

  const built = await inspectImage(docker, image);
  if (!built) throw new ImageBuildError(`Building ${image} reported success but no image exists.`);
  if (recipe.smokeTest) {
    const result = await probeImage(docker, image, recipe.smokeTest);
    const output = result.output.trim().split(/\r?\n/);
    if (result.exitCode !== 0) {
      // Untag it so the next setup rebuilds instead of trusting the hash label.
      await docker
        .getImage(image)
        .remove({ force: true })
        .catch(() => undefined);
      throw new ImageBuildError(
        `${image} was built but \`${recipe.smokeTest.join(" ")}\` fails in it as uid 100 with a read-only root (exit code ${result.exitCode}): ${lastLines(output) || "no output"}`,
      );
    }
    onProgress?.(`[${image}] check: ${recipe.smokeTest.join(" ")} -> ${output[0] ?? ""}`);
  }
  return builtOutcome(image, built, existing?.id, seconds(), recipe.runtime);
}

/** The report of a fresh build; the image it replaced (if any) is to be removed. */
export function builtOutcome(
  image: string,
  built: { id: string; sizeBytes: number },
  previousId: string | undefined,
  seconds: number,
  runtime?: Runtime,
): EnsureOutcome {
  const report = withRuntime(runtime, {
    image,
    status: "built",
    sizeBytes: built.sizeBytes,
    id: built.id,
    seconds,
  });
  return previousId && previousId !== built.id ? { report, supersededId: previousId } : { report };
}

function withRuntime(runtime: Runtime | undefined, report: ImageReport): ImageReport {
  return runtime ? { ...report, runtime } : report;
}

/** Reads a file isol8 ships in `sandbox/`; a missing one means a broken install or checkout. */
export async function readShippedFile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new ImageBuildError(
      `Cannot read ${path} (${reasonOf(error)}): isol8's sandbox/ files are missing; reinstall isol8.`,
    );
  }
}
