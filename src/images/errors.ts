/**
 * Thrown when an image cannot be built. The message is one line a user can act
 * on: which image or step failed, why, and the last lines of its output.
 */
export class ImageBuildError extends Error {
  override readonly name = "ImageBuildError";
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
