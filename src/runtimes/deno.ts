import { SANDBOX_DIR, SYSTEM_CA_BUNDLE } from "../sandbox-layout.js";
import type { RuntimeAdapter } from "./adapter.js";
import { linkNodeModules, projectDir } from "./bake-script.js";
import { npmRegistryEnv } from "./npm-registry.js";
import { denoScheme, denoSpecifier } from "./package-specs.js";

/** Deno's pinned version, from `@deno/linux-*-glibc`; changing it rebuilds the image. */
const DENO_VERSION = "2.9.6";

export const deno: RuntimeAdapter = {
  name: "deno",
  defaultExtension: ".mts",
  extensions: [".mts", ".ts", ".js", ".mjs", ".tsx", ".jsx"],
  // The container is the security boundary; inside it the program may use
  // whatever the container allows, as it would under any other runtime.
  command: (path) => ["deno", "run", "--allow-all", "--no-prompt", path],
  // Deno colours its error messages even without a terminal.
  env: { DENO_DIR: `${SANDBOX_DIR}/.cache/deno`, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  // npm: specifiers from the npm registry (or the configured one), jsr: from JSR.
  registry: { kind: "npm", defaultHosts: ["registry\\.npmjs\\.org", "jsr\\.io", "npm\\.jsr\\.io"] },
  installer: {
    argv: (packages) => ["deno", "cache", "--quiet", ...packages.map(denoSpecifier)],
    env: npmRegistryEnv,
    // The program resolves npm: specifiers against the same registry.
    programEnv: npmRegistryEnv,
  },
  bake: {
    script: [
      `export DENO_DIR=/tmp/isol8-deno-cache DENO_CERT=${SYSTEM_CA_BUNDLE} DENO_NO_UPDATE_CHECK=1 NO_COLOR=1`,
      ...projectDir("deno", "deno.json", '{"nodeModulesDir":"auto"}'),
      // `deno install` reads `--` as the end of its packages: the specifiers are checked to start with npm: instead.
      'deno install "$@"',
      "rm -rf /tmp/isol8-deno-cache",
      `printf '%s\\n' '{"nodeModulesDir":"manual","lock":false}' > /deno.json`,
      linkNodeModules("deno"),
    ],
    // jsr: and https: modules would live in DENO_DIR, which is empty in every sandbox.
    refuse: (spec) => {
      const scheme = denoScheme(spec);
      return scheme !== undefined && scheme !== "npm:"
        ? "only npm: packages can be baked for deno (jsr: and https: modules live in DENO_DIR, which is empty in every sandbox)"
        : undefined;
    },
    normalize: denoSpecifier,
    failureLine: (lines) => lines.find((line) => /^error:/i.test(line)),
  },
  image: {
    npmPackages: ({ arch }) => [
      { name: `@deno/linux-${arch}-glibc`, version: DENO_VERSION, dir: "deno" },
    ],
    versionCommand: ["deno", "--version"],
  },
};
