import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DockerClient } from "../backend/docker/engine-api/client.js";
import { eventError, readProgressStream } from "../backend/docker/engine-api/progress.js";
import { LABELS } from "../engine/labels.js";
import { dockerBuild } from "./build.js";
import {
  bootstrapDebian,
  bootstrapInputs,
  chooseBootstrapTool,
  DEBIAN_SUITE,
  removeRootfsDir,
} from "./debian-bootstrap.js";
import type { EnsureOptions, EnsureOutcome } from "./ensure-image.js";
import { builtOutcome, readShippedFile } from "./ensure-image.js";
import { ImageBuildError, reasonOf } from "./errors.js";
import { inspectImage } from "./image-state.js";
import { inputsHash } from "./inputs-hash.js";
import { ROOTFS_IMAGE } from "./names.js";
import { dockerfilePath } from "./paths.js";
import { archiveDirectory } from "./tar.js";

/** The registry image used as the rootfs when a registry is reachable. */
const REGISTRY_DEBIAN_IMAGE = "debian:bookworm-slim";

/**
 * Makes sure the Debian bookworm rootfs image exists: kept as is when present
 * (unless force); otherwise pulled from a registry and labelled, or, with no
 * registry, bootstrapped locally with debootstrap/mmdebstrap and imported.
 */
export async function ensureRootfs(
  docker: DockerClient,
  options: EnsureOptions,
): Promise<EnsureOutcome> {
  const started = performance.now();
  const seconds = (): number => Math.round((performance.now() - started) / 10) / 100;
  const log = (line: string): void => options.onProgress?.(`[${ROOTFS_IMAGE}] ${line}`);

  const existing = await inspectImage(docker, ROOTFS_IMAGE);
  if (existing && !options.force) {
    return {
      report: {
        image: ROOTFS_IMAGE,
        status: "up-to-date",
        sizeBytes: existing.sizeBytes,
        id: existing.id,
        seconds: seconds(),
      },
    };
  }

  let pulled = false;
  try {
    log(`pulling ${REGISTRY_DEBIAN_IMAGE}`);
    await pullImage(docker, REGISTRY_DEBIAN_IMAGE, log);
    pulled = true;
  } catch (error) {
    log(`pull failed (${reasonOf(error)})`);
    if (!options.force && (await inspectImage(docker, REGISTRY_DEBIAN_IMAGE))) {
      log(`using the local ${REGISTRY_DEBIAN_IMAGE}`);
      pulled = true;
    }
  }

  if (pulled) {
    await labelRegistryImage(docker, options);
  } else {
    log("bootstrapping Debian locally instead");
    const tool = await chooseBootstrapTool(log);
    const dir = await bootstrapDebian(tool, log);
    try {
      log("importing the root filesystem");
      await importDirectory(docker, dir, tool.tool, inputsHash(bootstrapInputs(tool.tool)));
    } finally {
      await removeRootfsDir(dir);
    }
  }

  const built = await inspectImage(docker, ROOTFS_IMAGE);
  if (!built) throw new ImageBuildError(`Creating ${ROOTFS_IMAGE} succeeded but no image exists.`);
  log(`ready (${built.id.slice(7, 19)})`);
  return builtOutcome(ROOTFS_IMAGE, built, existing?.id, seconds());
}

/** Pulls an image, forwarding its layer status changes (not byte counts) to `log`. */
async function pullImage(
  docker: DockerClient,
  reference: string,
  log: (line: string) => void,
): Promise<void> {
  const stream: NodeJS.ReadableStream = await docker.pull(reference);
  let failure: string | undefined;
  await readProgressStream(stream, (event) => {
    const error = eventError(event);
    if (error !== undefined) {
      failure ??= error;
      return;
    }
    if (!event.status || /^(Downloading|Extracting|Waiting)$/.test(event.status)) return;
    log(event.id ? `${event.id}: ${event.status}` : event.status);
  });
  if (failure !== undefined) throw new Error(failure);
}

/** Tags the registry image as the rootfs, adding isol8's labels with a one-line build. */
async function labelRegistryImage(docker: DockerClient, options: EnsureOptions): Promise<void> {
  const dockerfile = await readShippedFile(dockerfilePath("rootfs-registry.Dockerfile"));
  const source = await inspectImage(docker, REGISTRY_DEBIAN_IMAGE);
  const contextDir = await mkdtemp(join(tmpdir(), "isol8-build-"));
  try {
    await writeFile(join(contextDir, "Dockerfile"), dockerfile);
    await dockerBuild(docker, {
      image: ROOTFS_IMAGE,
      contextDir,
      labels: {
        [LABELS.managed]: "true",
        [LABELS.inputsHash]: inputsHash({
          source: "registry",
          reference: REGISTRY_DEBIAN_IMAGE,
          parentId: source?.id,
          dockerfile,
        }),
      },
      nocache: false,
      onProgress: options.onProgress,
    });
  } finally {
    await rm(contextDir, { recursive: true, force: true });
  }
}

/** `tar -C dir -c . | docker import - isol8:debian-bookworm`, with isol8's labels. */
async function importDirectory(
  docker: DockerClient,
  dir: string,
  tool: string,
  hash: string,
): Promise<void> {
  const [repo = ROOTFS_IMAGE, tag] = ROOTFS_IMAGE.split(":");
  const archive = archiveDirectory(dir, "the bootstrapped rootfs");
  try {
    const response: NodeJS.ReadableStream = await docker.importImage(archive.stream, {
      repo,
      tag,
      message: `isol8: Debian ${DEBIAN_SUITE} minbase (${tool})`,
      changes: [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        'CMD ["bash"]',
        `LABEL ${LABELS.managed}=true`,
        `LABEL ${LABELS.inputsHash}=${hash}`,
      ],
    });
    let failure: string | undefined;
    await readProgressStream(response, (event) => {
      failure ??= eventError(event);
    });
    if (failure !== undefined) throw new Error(failure);
  } catch (error) {
    archive.abort();
    throw new ImageBuildError(
      `Importing the bootstrapped rootfs into Docker failed: ${reasonOf(error)}`,
    );
  }
  try {
    await archive.finished;
  } catch (error) {
    // An incomplete archive may have been imported: do not leave it to look valid.
    await docker
      .getImage(ROOTFS_IMAGE)
      .remove({ force: true })
      .catch(() => undefined);
    throw error;
  }
}
