import type { Runtime } from "./runtime.js";

/** How one language is run inside its image. */
export interface RuntimeAdapter {
  readonly name: Runtime;
  /** Extension given to inline code when the request names none. */
  readonly defaultExtension: string;
  /** Extensions this runtime can run; anything else is refused up front. */
  readonly extensions: readonly string[];
  /** The argv that runs the program stored at `path`. */
  command(path: string): string[];
  /** Environment this runtime needs in a read-only container whose home is /sandbox. */
  readonly env: Readonly<Record<string, string>>;
}
