import type { RuntimeAdapter } from "./adapter.js";

export const bash: RuntimeAdapter = {
  name: "bash",
  defaultExtension: ".sh",
  extensions: [".sh", ".bash"],
  command: (path) => ["bash", path],
  env: {},
};
