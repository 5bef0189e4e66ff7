import { runtimeAdapter } from "../runtimes/index.js";
import { packageSpecProblem, registryUrlProblem } from "../runtimes/package-specs.js";
import { RUNTIMES, type Runtime } from "../runtimes/runtime.js";
import type { PackageRegistries } from "../types.js";
import { type BuildStepError, ImageInputError } from "./errors.js";

/**
 * Packages installed into an image at build time, per runtime: pip
 * requirement specifiers (python), npm package specs (node, bun), `npm:`
 * specifiers (deno; a bare name means `npm:<name>`) and Debian package names
 * (bash, installed with apt-get).
 */
export type PackageLists = Partial<Record<Runtime, readonly string[]>>;

export type { PackageRegistries };

/**
 * The start of every install script: fail on the first failing command. The
 * rest is the runtime adapter's `bake.script` (where each runtime's packages
 * live in its image is told in `src/runtimes/bake-script.ts`).
 */
const STRICT = "set -e";

/** `$0` of a runtime's install step: how a failed step is recognised. */
function marker(runtime: Runtime): string {
  return `isol8-install-${runtime}`;
}

/**
 * Checks a runtime's package specs (the rule is `packageSpecProblem`'s) and
 * returns them as the install step takes them; throws ImageInputError naming
 * the package and the problem. Only here: specs are trimmed (they come from
 * comma lists and config files), and the runtime adapter's bake may refuse
 * more and rewrite a spec (deno bakes `npm:` packages only, a bare name as
 * `npm:NAME`: jsr: and https: modules live in DENO_DIR, empty in every sandbox).
 */
export function normalizePackages(runtime: Runtime, specs: readonly string[]): string[] {
  const { bake } = runtimeAdapter(runtime);
  return specs.map((raw) => {
    const spec = raw.trim();
    const problem = bake.refuse?.(spec) ?? packageSpecProblem(runtime, spec);
    if (problem)
      throw new ImageInputError(`${runtime} package ${JSON.stringify(spec)}: ${problem}`);
    return bake.normalize ? bake.normalize(spec) : spec;
  });
}

/**
 * Splits a comma-separated flag value into package specs. A comma inside
 * brackets (`pkg[a,b]`) or before a version constraint (`pkg>=1,<2`) stays:
 * it belongs to the same pip requirement. Empty entries are kept (and
 * refused later), so a typo never passes silently.
 */
export function splitPackageList(value: string): string[] {
  const parts: string[] = [];
  let current = "";
  let depth = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] ?? "";
    if (c === "[" || c === "(") depth++;
    else if ((c === "]" || c === ")") && depth > 0) depth--;
    if (c === "," && depth === 0 && !/^\s*[<>=!~]/.test(value.slice(i + 1))) {
      parts.push(current.trim());
      current = "";
    } else {
      current += c;
    }
  }
  parts.push(current.trim());
  return parts;
}

/** Checks an index URL (the rule is `registryUrlProblem`'s); returns it unchanged. */
export function checkRegistryUrl(kind: keyof PackageRegistries, url: string): string {
  const problem = registryUrlProblem(url);
  if (problem) throw new ImageInputError(`${kind} index ${JSON.stringify(url)} ${problem}`);
  return url;
}

/** The index a runtime's installer uses (none for apt-get: Debian's archive). */
export function registryKind(runtime: Runtime): keyof PackageRegistries | undefined {
  return runtimeAdapter(runtime).registry?.kind;
}

/** The registries a runtime's installer uses, from the ones given. */
export function relevantRegistries(
  runtime: Runtime,
  registries: PackageRegistries | undefined,
): PackageRegistries {
  const kind = registryKind(runtime);
  const url = kind ? registries?.[kind] : undefined;
  return kind && url ? { [kind]: checkRegistryUrl(kind, url) } : {};
}

/** Dockerfile text installing packages, and the build arguments it reads. */
interface InstallStep {
  /** `ARG` lines for the registries, then one exec-form `RUN`. */
  dockerfile: string;
  buildArgs: Record<string, string>;
}

/**
 * The build step that installs a runtime's (already normalized) packages,
 * with the relevant registry passed in as `PIP_INDEX_URL` (plus
 * `PIP_TRUSTED_HOST` for an http index) or `NPM_CONFIG_REGISTRY`. The
 * build's RUN steps then see them as environment variables (and so does a
 * custom image's setup commands after it). Build arguments show in `docker
 * history`: do not put passwords in index URLs.
 */
export function installStep(
  runtime: Runtime,
  packages: readonly string[],
  registries: PackageRegistries,
): InstallStep {
  const buildArgs: Record<string, string> = {};
  if (registries.pip) {
    buildArgs.PIP_INDEX_URL = registries.pip;
    const url = new URL(registries.pip);
    if (url.protocol === "http:") buildArgs.PIP_TRUSTED_HOST = url.host;
  }
  if (registries.npm) buildArgs.NPM_CONFIG_REGISTRY = registries.npm;
  const args = Object.keys(buildArgs).map((name) => `ARG ${name}`);
  const script = [STRICT, ...runtimeAdapter(runtime).bake.script].join("\n");
  const run = ["/bin/sh", "-c", script, marker(runtime), ...packages];
  return { dockerfile: [...args, `RUN ${JSON.stringify(run)}`, ""].join("\n"), buildArgs };
}

/** The exec-form argv of a failed `RUN [...]` step, if it is one. */
export function execFormArgv(step: string): string[] | undefined {
  if (!step.startsWith("RUN [")) return undefined;
  try {
    const argv: unknown = JSON.parse(step.slice(4));
    return Array.isArray(argv) && argv.every((a) => typeof a === "string") ? argv : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One line saying which package step failed and why, for a failed install
 * step (undefined for any other step): `installing python packages into
 * isol8:python failed: ERROR: No matching distribution found for nosuch`.
 */
export function explainInstallFailure(error: BuildStepError, image: string): string | undefined {
  const argv = execFormArgv(error.step);
  const runtime = RUNTIMES.find((r) => argv?.[3] === marker(r));
  if (!runtime) return undefined;
  const why =
    runtimeAdapter(runtime).bake.failureLine(error.output) ?? error.output.at(-1) ?? error.failure;
  return `installing ${runtime} packages into ${image} failed: ${why}`;
}
