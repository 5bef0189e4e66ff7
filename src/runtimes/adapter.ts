import type { EnginePlatform, NpmPackage } from "../images/runtime-packages.js";
import type { PackageRegistries } from "../types.js";
import type { Runtime } from "./runtime.js";

/**
 * Everything isol8 knows about one language, in one place: how a program is
 * run, started ahead of time, and run as a code context; how packages are
 * installed before a run and baked into an image; what its image is built
 * from. The engine and the image builder dispatch through it, so adding a
 * language is one adapter file, its registration in `index.ts`, and its
 * bootstrap (if it has one) in `sandbox/bootstrap/`.
 */
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
  /**
   * The argv of the code-context kernel (a script of `sandbox/bootstrap/`
   * that speaks the contexts' JSON-lines protocol); none: no contexts.
   */
  readonly kernel?: readonly string[];
  /** The package registry its installers read; none: its packages come from Debian's archive. */
  readonly registry?: RuntimeRegistry;
  /** The installer run before a program (`installPackages`); none: packages can only be baked. */
  readonly installer?: RuntimeInstaller;
  /** How packages are baked into its image (`isol8 setup --<runtime>`, `isol8 build --install`). */
  readonly bake: RuntimeBake;
  /** What its image is built from, and how a built image is checked. */
  readonly image: RuntimeImage;
}

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

/** The registry a runtime's installers read, at run time and at build time alike. */
export interface RuntimeRegistry {
  /** Which of the configured registries (`PackageRegistries`) it is. */
  readonly kind: keyof PackageRegistries;
  /** Egress allow rules (host patterns) for the default registry, used when none is configured. */
  readonly defaultHosts: readonly string[];
}

/**
 * The installer a run's `installPackages` go through, in the run's container
 * and timeout, as the sandbox user, into /sandbox. `registry` is the
 * configured URL of the runtime's registry kind, if any.
 */
interface RuntimeInstaller {
  /** The installer's argv: its options, then each (checked) spec as an argument of its own. */
  argv(packages: readonly string[]): string[];
  /** The installer's environment (registry, caches, retries). */
  env(registry: string | undefined): Record<string, string>;
  /** What the program needs afterwards to find the installed packages. */
  programEnv(registry: string | undefined): Record<string, string>;
}

/**
 * The image build step that bakes packages in: a shell script run as root by
 * `/bin/sh -c SCRIPT MARKER PACKAGE...` after `set -e`, the packages being
 * positional parameters (`"$@"`), never parsed by a shell. The script's text
 * is part of the image's inputs hash: changing it rebuilds every image with
 * baked packages.
 */
interface RuntimeBake {
  /** The script's lines, after the `set -e` every install script starts with. */
  readonly script: readonly string[];
  /** Why a spec the installer takes cannot be baked (a phrase), beyond `packageSpecProblem`'s rule. */
  refuse?(spec: string): string | undefined;
  /** The spec as the bake step takes it; default: unchanged. */
  normalize?(spec: string): string;
  /** The line of the installer's output that says why it failed, if one does. */
  failureLine(lines: readonly string[]): string | undefined;
}

/** What a runtime's image (FROM isol8:base) is built from. */
interface RuntimeImage {
  /**
   * The npm packages holding its binaries, fetched on the host with `npm
   * pack`; none: the base image's Debian packages suffice. Their names and
   * versions are part of the image's inputs hash.
   */
  npmPackages?(platform: EnginePlatform): NpmPackage[];
  /** The command whose success proves the built image works (as the sandbox user, read-only root). */
  readonly versionCommand: readonly string[];
}
