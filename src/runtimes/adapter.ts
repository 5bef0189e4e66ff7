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
  /** How the interpreter is started ahead of a run, while the container is idle; none: every run starts it. */
  readonly prestart?: RuntimePrestart;
}

/** Where the base image keeps the files of `sandbox/bootstrap/`. */
export const BOOTSTRAP_DIR = "/usr/local/lib/isol8";

/**
 * A bootstrap program (in `sandbox/bootstrap/`) that the interpreter runs
 * ahead of time; it waits on fd 3 for a run's argv, env and working
 * directory and then behaves as `command(path)` would have.
 */
interface RuntimePrestart {
  /** The bootstrap's argv; its argv[0] is `command(path)[0]`. */
  readonly argv: readonly string[];
  /**
   * Variables this interpreter reads only while starting up (beyond the
   * locale, PATH, HOME and loader variables every interpreter reads): a run
   * whose environment differs from the bootstrap's on one of them starts its
   * own interpreter instead.
   */
  readonly startupEnv: RegExp;
}
