import {
  denoScheme,
  denoSpecifier,
  packageSpecProblem,
  registryUrlProblem,
} from "../runtimes/package-specs.js";
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
 * Where baked packages live in an image, and how a sandbox finds them:
 *
 * - python: pip installs into the system site-packages
 *   (`/usr/local/lib/python3.11/dist-packages`, on Debian's default
 *   `sys.path`), with `--break-system-packages` as Debian requires.
 * - node and bun: `npm install` / `bun add` in `/opt/isol8/<runtime>`, and
 *   `/node_modules` links to its `node_modules`. Node's and Bun's resolvers
 *   look in `node_modules` of every parent directory of `/sandbox`, for ES
 *   modules too (which ignore NODE_PATH).
 * - deno: `deno install` in `/opt/isol8/deno` (its npm cache is thrown
 *   away), `/node_modules` links to its `node_modules`, and `/deno.json` says
 *   `"nodeModulesDir": "manual"`: Deno finds that file above `/sandbox` and
 *   resolves `npm:` specifiers from `/node_modules`, with no registry and no
 *   DENO_DIR cache (a sandbox's DENO_DIR is an empty per-run directory).
 * - bash: apt-get, from Debian's archive.
 */
const PACKAGE_DIR = "/opt/isol8";

const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** The start of every install script: fail on the first failing command. */
const STRICT = "set -e";

/**
 * Install scripts, run as root by `/bin/sh -c SCRIPT MARKER PACKAGE...`: the
 * packages are positional parameters, never parsed by a shell, and `--` ends
 * the installer's options where the installer supports it.
 */
const SCRIPTS: Record<Runtime, string[]> = {
  python: [
    STRICT,
    'if ! python3 -m pip --version >/dev/null 2>&1; then echo "ERROR: pip is not installed in this image; run \\`isol8 setup\\` to rebuild isol8:python" >&2; exit 1; fi',
    'python3 -m pip install --no-cache-dir --break-system-packages --root-user-action=ignore --disable-pip-version-check --no-input --progress-bar off -- "$@"',
  ],
  node: [
    STRICT,
    `export NODE_EXTRA_CA_CERTS=${CA_BUNDLE}`,
    ...projectDir("node", "package.json", '{"name":"isol8-baked-packages","private":true}'),
    'npm install --no-audit --no-fund --no-update-notifier --cache /tmp/isol8-npm-cache -- "$@"',
    "rm -rf /tmp/isol8-npm-cache /root/.npm",
    linkNodeModules("node"),
  ],
  bun: [
    STRICT,
    `export NODE_EXTRA_CA_CERTS=${CA_BUNDLE} BUN_INSTALL_CACHE_DIR=/tmp/isol8-bun-cache DO_NOT_TRACK=1`,
    '[ -z "$NPM_CONFIG_REGISTRY" ] || export BUN_CONFIG_REGISTRY="$NPM_CONFIG_REGISTRY"',
    ...projectDir("bun", "package.json", '{"name":"isol8-baked-packages","private":true}'),
    'bun add --no-progress -- "$@"',
    "rm -rf /tmp/isol8-bun-cache",
    linkNodeModules("bun"),
  ],
  deno: [
    STRICT,
    `export DENO_DIR=/tmp/isol8-deno-cache DENO_CERT=${CA_BUNDLE} DENO_NO_UPDATE_CHECK=1 NO_COLOR=1`,
    ...projectDir("deno", "deno.json", '{"nodeModulesDir":"auto"}'),
    // `deno install` reads `--` as the end of its packages: the specifiers are checked to start with npm: instead.
    'deno install "$@"',
    "rm -rf /tmp/isol8-deno-cache",
    `printf '%s\\n' '{"nodeModulesDir":"manual","lock":false}' > /deno.json`,
    linkNodeModules("deno"),
  ],
  bash: [
    STRICT,
    "export DEBIAN_FRONTEND=noninteractive",
    "apt-get update",
    'apt-get install -y --no-install-recommends -- "$@"',
    "apt-get clean",
    "rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log",
  ],
};

/** Creates (once) and enters the directory a runtime's packages are installed in. */
function projectDir(runtime: Runtime, file: string, content: string): string[] {
  const dir = `${PACKAGE_DIR}/${runtime}`;
  return [
    `mkdir -p ${dir}`,
    `cd ${dir}`,
    `[ -f ${file} ] || printf '%s\\n' '${content}' > ${file}`,
  ];
}

function linkNodeModules(runtime: Runtime): string {
  return `[ -e /node_modules ] || ln -s ${PACKAGE_DIR}/${runtime}/node_modules /node_modules`;
}

/** `$0` of a runtime's install step: how a failed step is recognised. */
function marker(runtime: Runtime): string {
  return `isol8-install-${runtime}`;
}

/**
 * Checks a runtime's package specs (the rule is `packageSpecProblem`'s) and
 * returns them as the install step takes them; throws ImageInputError naming
 * the package and the problem. Only here: specs are trimmed (they come from
 * comma lists and config files), and deno bakes `npm:` packages only (no
 * jsr: or https: modules, which live in DENO_DIR, empty in every sandbox).
 */
export function normalizePackages(runtime: Runtime, specs: readonly string[]): string[] {
  return specs.map((raw) => {
    const spec = raw.trim();
    const scheme = runtime === "deno" ? denoScheme(spec) : undefined;
    const problem =
      scheme !== undefined && scheme !== "npm:"
        ? "only npm: packages can be baked for deno (jsr: and https: modules live in DENO_DIR, which is empty in every sandbox)"
        : packageSpecProblem(runtime, spec);
    if (problem)
      throw new ImageInputError(`${runtime} package ${JSON.stringify(spec)}: ${problem}`);
    return runtime === "deno" ? denoSpecifier(spec) : spec;
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
function registryKind(runtime: Runtime): keyof PackageRegistries | undefined {
  if (runtime === "python") return "pip";
  if (runtime === "bash") return undefined;
  return "npm";
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
  const run = ["/bin/sh", "-c", SCRIPTS[runtime].join("\n"), marker(runtime), ...packages];
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

/** The line of an installer's output that says why it failed. */
const WHY: Record<Runtime, (lines: readonly string[]) => string | undefined> = {
  python: (lines) => lines.findLast((line) => /^ERROR: /.test(line)),
  node: (lines) =>
    lines
      .filter((line) => /^npm (error|ERR!)/.test(line))
      .map((line) => line.replace(/^npm (error|ERR!)\s*/, "").trim())
      .find((line) => line.length > 0 && !/^(code|errno|syscall) |^A complete log /.test(line)),
  bun: (lines) => lines.findLast((line) => /^error:/i.test(line)),
  deno: (lines) => lines.find((line) => /^error:/i.test(line)),
  bash: (lines) => lines.findLast((line) => /^E: /.test(line)),
};

/**
 * One line saying which package step failed and why, for a failed install
 * step (undefined for any other step): `installing python packages into
 * isol8:python failed: ERROR: No matching distribution found for nosuch`.
 */
export function explainInstallFailure(error: BuildStepError, image: string): string | undefined {
  const argv = execFormArgv(error.step);
  const runtime = RUNTIMES.find((r) => argv?.[3] === marker(r));
  if (!runtime) return undefined;
  const why = WHY[runtime](error.output) ?? error.output.at(-1) ?? error.failure;
  return `installing ${runtime} packages into ${image} failed: ${why}`;
}
