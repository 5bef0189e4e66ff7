import type { DockerClient } from "../backend/docker/engine-api/client.js";
import { LABELS } from "../engine/labels.js";

/** What isol8 needs to know about an existing image. */
interface ImageState {
  id: string;
  sizeBytes: number;
  labels: Record<string, string>;
  /** The `isol8.inputs` label: hash of everything the image was built from. */
  inputsHash: string | undefined;
  repoTags: string[];
}

function isNotFound(error: unknown): boolean {
  return (error as { statusCode?: number } | null)?.statusCode === 404;
}

/** Inspects an image by name or id; undefined when it does not exist. */
export async function inspectImage(
  docker: DockerClient,
  name: string,
): Promise<ImageState | undefined> {
  try {
    const info = await docker.getImage(name).inspect();
    const labels = info.Config?.Labels ?? {};
    return {
      id: info.Id,
      sizeBytes: info.Size,
      labels,
      inputsHash: labels[LABELS.inputsHash],
      repoTags: (info.RepoTags ?? []).filter((tag) => tag !== "<none>:<none>"),
    };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Deletes images (and their untagged parent layers) that no tag names, such
 * as the leftovers of a multi-stage build's earlier stages; quietly keeps any
 * that are tagged or still in use.
 */
export async function removeUntagged(docker: DockerClient, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    const state = await inspectImage(docker, id).catch(() => undefined);
    if (!state || state.repoTags.length > 0) continue;
    await docker
      .getImage(state.id)
      .remove()
      .catch(() => undefined);
  }
}
