import { SANDBOX_DIR, SYSTEM_CA_BUNDLE, TMP_DIR } from "../sandbox-layout.js";
import type { RuntimeAdapter } from "./adapter.js";
import { BAKED_PACKAGE_JSON, linkNodeModules, projectDir } from "./bake-script.js";
import { NPM_REGISTRY, npmRegistryEnv } from "./npm-registry.js";

/** Bun's pinned version, from `@oven/bun-linux-*`; changing it rebuilds the image. */
const BUN_VERSION = "1.4.5";

export const bun: RuntimeAdapter = {
  name: "bun",
  defaultExtension: ".ts",
  extensions: [".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts"],
  command: (path) => ["bun", "run", path],
  env: {
    BUN_INSTALL_CACHE_DIR: `${SANDBOX_DIR}/.cache/bun`,
    BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0",
  },
  registry: NPM_REGISTRY,
  installer: {
    // bun's `add` has no `--` to end its options: specs are checked not to start with `-`.
    argv: (packages) => ["bun", "add", "--no-save", "--silent", ...packages],
    env: (registry) => ({
      ...npmRegistryEnv(registry),
      BUN_INSTALL_CACHE_DIR: `${TMP_DIR}/.bun-cache`,
    }),
    programEnv: () => ({}),
  },
  bake: {
    script: [
      `export NODE_EXTRA_CA_CERTS=${SYSTEM_CA_BUNDLE} BUN_INSTALL_CACHE_DIR=/tmp/isol8-bun-cache DO_NOT_TRACK=1`,
      '[ -z "$NPM_CONFIG_REGISTRY" ] || export BUN_CONFIG_REGISTRY="$NPM_CONFIG_REGISTRY"',
      ...projectDir("bun", "package.json", BAKED_PACKAGE_JSON),
      'bun add --no-progress -- "$@"',
      "rm -rf /tmp/isol8-bun-cache",
      linkNodeModules("bun"),
    ],
    failureLine: (lines) => lines.findLast((line) => /^error:/i.test(line)),
  },
  image: {
    // Bun's default x64 build needs AVX2; the baseline build runs on every x64 CPU.
    npmPackages: ({ arch, avx2 }) => {
      const name =
        arch === "arm64"
          ? "@oven/bun-linux-aarch64"
          : avx2
            ? "@oven/bun-linux-x64"
            : "@oven/bun-linux-x64-baseline";
      return [{ name, version: BUN_VERSION, dir: "bun" }];
    },
    versionCommand: ["bun", "--version"],
  },
};
