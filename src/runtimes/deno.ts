import type { RuntimeAdapter } from "./adapter.js";

export const deno: RuntimeAdapter = {
  name: "deno",
  defaultExtension: ".mts",
  extensions: [".mts", ".ts", ".js", ".mjs", ".tsx", ".jsx"],
  // The container is the security boundary; inside it the program may use
  // whatever the container allows, as it would under any other runtime.
  command: (path) => ["deno", "run", "--allow-all", "--no-prompt", path],
  // Deno colours its error messages even without a terminal.
  env: { DENO_DIR: "/sandbox/.cache/deno", DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
};
