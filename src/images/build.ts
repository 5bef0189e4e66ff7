import type { DockerClient } from "../backend/docker/engine-api/client.js";
import {
  eventError,
  type ProgressEvent,
  readProgressStream,
} from "../backend/docker/engine-api/progress.js";
import { BuildStepError, ImageBuildError, lastLines, reasonOf } from "./errors.js";
import { removeUntagged } from "./image-state.js";
import { archiveDirectory } from "./tar.js";

interface DockerBuildRequest {
  /** Tag to give the image, e.g. `isol8:base`. */
  image: string;
  /** Directory holding `Dockerfile` and every file it copies. */
  contextDir: string;
  labels: Record<string, string>;
  /** Ignore the engine's layer cache. */
  nocache: boolean;
  /** Values of the Dockerfile's `ARG`s. */
  buildArgs?: Record<string, string> | undefined;
  /**
   * Network of the build's RUN steps: Docker's default bridge unless set;
   * `host` lets package installs reach an index on the host's loopback.
   */
  networkMode?: "host" | undefined;
  onProgress?: ((line: string) => void) | undefined;
}

interface DockerBuildResult {
  /**
   * Images the classic builder left behind for the earlier stages of a
   * multi-stage build (untagged; the caller may delete them).
   */
  stageImageIds: string[];
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal colour codes
const ANSI_ESCAPE = /\u001b\[[0-9;]*[A-Za-z]/g;
/** Output lines not worth showing: apt's per-5% database progress. */
const NOISE = /^\(Reading database \.\.\. \d+%$/;
const STEP = /^Step \d+\/\d+ : /;
/** The builder's own bookkeeping lines, left out of error messages. */
const BUILDER_CHATTER = /^(Running in [0-9a-f]+|Removing intermediate container [0-9a-f]+)$/;

/**
 * Runs one `docker build` (classic builder) of a context directory, forwarding
 * the build's output lines to onProgress prefixed with the image name. Turns
 * a failed step into an ImageBuildError naming the image, the step and its
 * last output lines.
 */
export async function dockerBuild(
  docker: DockerClient,
  request: DockerBuildRequest,
): Promise<DockerBuildResult> {
  const { image, onProgress } = request;
  const archive = archiveDirectory(request.contextDir, `the build context of ${image}`);
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage(archive.stream, {
      t: image,
      labels: request.labels,
      nocache: request.nocache,
      pull: false,
      rm: true,
      forcerm: true,
      ...(request.buildArgs && Object.keys(request.buildArgs).length > 0
        ? { buildargs: request.buildArgs }
        : {}),
      ...(request.networkMode ? { networkmode: request.networkMode } : {}),
    });
  } catch (error) {
    archive.abort();
    throw new ImageBuildError(`Building ${image} failed: ${reasonOf(error)}`);
  }

  let step = "";
  let lastLayerId: string | undefined;
  const stageImageIds: string[] = [];
  const output: string[] = [];
  let failure: string | undefined;
  const onEvent = (event: ProgressEvent): void => {
    const error = eventError(event);
    if (error !== undefined) {
      failure ??= error.replace(ANSI_ESCAPE, "").trim();
      onProgress?.(`[${image}] ERROR: ${failure.replace(/\s*\n\s*/g, " ")}`);
      return;
    }
    const text = event.stream ?? (event.status ? `${event.status} ${event.progress ?? ""}` : "");
    for (const raw of text.replace(ANSI_ESCAPE, "").split(/\r?\n|\r/)) {
      const line = raw.trim();
      if (line.length === 0 || NOISE.test(line)) continue;
      if (STEP.test(line)) {
        step = line.replace(STEP, "");
        // A FROM after the first step starts a new stage: the layer before it ended the last one.
        if (/^FROM /i.test(step) && lastLayerId) stageImageIds.push(lastLayerId);
        output.length = 0;
      } else if (line.startsWith("--->")) {
        const id = /^---> ([0-9a-f]{12,64})$/.exec(line)?.[1];
        if (id) lastLayerId = id;
      } else if (!BUILDER_CHATTER.test(line)) {
        output.push(line);
        if (output.length > 20) output.shift();
      }
      onProgress?.(`[${image}] ${line}`);
    }
  };
  try {
    await readProgressStream(stream, onEvent);
  } catch (error) {
    failure ??= reasonOf(error);
  }
  try {
    await archive.finished;
  } catch (error) {
    failure ??= reasonOf(error);
  }
  if (failure !== undefined) {
    const at = step ? ` at step "${truncate(step, 120)}"` : "";
    // The classic builder keeps the finished steps' layers of a failed build, untagged.
    await removeUntagged(
      docker,
      [...stageImageIds, lastLayerId].filter((id): id is string => id !== undefined),
    );
    const shown = output.filter((line) => line !== failure);
    const tail = lastLines(shown);
    const message = `Building ${image} failed${at}: ${failure}${tail ? `. Last output: ${tail}` : ""}`;
    if (step) throw new BuildStepError(message, step, failure, shown);
    throw new ImageBuildError(message);
  }
  return { stageImageIds };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
