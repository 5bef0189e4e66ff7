import type { RuntimeAdapter } from "./adapter.js";

export const bun: RuntimeAdapter = {
  name: "bun",
  defaultExtension: ".ts",
  extensions: [".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts"],
  command: (path) => ["bun", "run", path],
  env: { BUN_INSTALL_CACHE_DIR: "/sandbox/.cache/bun", BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" },
};
