import { Isol8Error } from "./errors.js";

/**
 * Thrown when a feature needs a package that isol8 lists as an optional peer
 * dependency and the package is not installed (today: `better-sqlite3`, which
 * only `isol8 serve` and `createIsol8Server` need, for the API key store).
 * The message names the package and the command that installs it.
 */
export class MissingDependencyError extends Isol8Error {
  override readonly name = "MissingDependencyError";
  override readonly code = "MISSING_DEPENDENCY";
}

/** What `loadOptionalDependency` needs to know of the package and of why it is wanted. */
interface OptionalDependency<T> {
  /** The package's name, as it is imported and installed. */
  name: string;
  /** What needs it, as the start of a sentence: "The HTTP server's API key store". */
  neededBy: string;
  /** Imports it; a function so that the import happens only when the feature runs. */
  load: () => Promise<T>;
}

/**
 * Imports an optional peer dependency, turning "not installed" into a
 * `MissingDependencyError` that says how to install it. Any other failure
 * (the package is there but broken) is rethrown as it is.
 */
export async function loadOptionalDependency<T>(dependency: OptionalDependency<T>): Promise<T> {
  try {
    return await dependency.load();
  } catch (error) {
    if (!isNotInstalled(error, dependency.name)) throw error;
    throw new MissingDependencyError(
      `${dependency.neededBy} needs the package ${dependency.name}, which is not installed. ` +
        `Install it next to isol8 (npm install ${dependency.name}; npm install -g ${dependency.name} for a global isol8) and retry.`,
      { cause: error },
    );
  }
}

/**
 * Node's loader says ERR_MODULE_NOT_FOUND for `import()` of a package that
 * is not there; the name check keeps a module missing inside the package
 * (a broken install) from being mistaken for the package missing.
 */
function isNotInstalled(error: unknown, name: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  return (
    (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") &&
    error.message.includes(`'${name}'`)
  );
}
