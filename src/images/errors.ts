import { Isol8Error } from "../errors.js";
/**
 * Thrown when an image cannot be built. The message is one line a user can act
 * on: which image or step failed, why, and the last lines of its output.
 */
export class ImageBuildError extends Isol8Error {
  override readonly name = "ImageBuildError";
  override readonly code: string = "IMAGE_BUILD";
}

/** Joins output lines into one line for an error message (at most `max` of the last ones). */
export function lastLines(lines: readonly string[], max = 6): string {
  return lines
    .slice(-max)
    .map((line) => line.replace(/\s+/g, " ").trim())
    .filter((line) => line.length > 0)
    .join(" | ");
}

/** The first line of an unknown error's message. */
export function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0]?.trim() ?? "";
}

/**
 * A Dockerfile step that failed. Callers that generate their own steps (baked
 * packages, a custom image's setup commands) read `step` and `output` to say
 * which of them failed and why.
 */
export class BuildStepError extends ImageBuildError {
  override readonly code = "BUILD_STEP";

  constructor(
    message: string,
    /** The step as the builder printed it, e.g. `RUN ["/bin/sh", ...]`. */
    readonly step: string,
    /** The builder's error, e.g. "The command ... returned a non-zero code: 1". */
    readonly failure: string,
    /** The step's last output lines (at most 20). */
    readonly output: readonly string[],
  ) {
    super(message);
  }
}

/**
 * Bad input to an image build (a package name, tag or index URL): the
 * caller's mistake, found before anything was built. The CLI exits 2.
 */
export class ImageInputError extends Isol8Error {
  override readonly name = "ImageInputError";
  override readonly code = "IMAGE_INPUT";
}
