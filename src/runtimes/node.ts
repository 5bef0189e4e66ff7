import type { RuntimeAdapter } from "./adapter.js";

export const node: RuntimeAdapter = {
  name: "node",
  // ES modules unless CommonJS is asked for with .cjs; a .js file lets Node decide from its syntax.
  defaultExtension: ".mjs",
  extensions: [".mjs", ".cjs", ".js"],
  command: (path) => ["node", path],
  env: {},
};
