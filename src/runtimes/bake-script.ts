/**
 * Shell lines the bake scripts of the npm-based runtimes (node, bun, deno)
 * share: each installs into a project directory of its own under
 * PACKAGE_DIR and links `/node_modules` to it.
 *
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
import type { Runtime } from "./runtime.js";

/** The directory baked npm-based packages are installed under, one project per runtime. */
const PACKAGE_DIR = "/opt/isol8";

/** The package.json of a baked project (node, bun). */
export const BAKED_PACKAGE_JSON = '{"name":"isol8-baked-packages","private":true}';

/** Creates (once) and enters the directory a runtime's packages are installed in. */
export function projectDir(runtime: Runtime, file: string, content: string): string[] {
  const dir = `${PACKAGE_DIR}/${runtime}`;
  return [
    `mkdir -p ${dir}`,
    `cd ${dir}`,
    `[ -f ${file} ] || printf '%s\\n' '${content}' > ${file}`,
  ];
}

/** Links `/node_modules` (found above /sandbox by every resolver) to the runtime's project. */
export function linkNodeModules(runtime: Runtime): string {
  return `[ -e /node_modules ] || ln -s ${PACKAGE_DIR}/${runtime}/node_modules /node_modules`;
}
