import type { RuntimeAdapter } from "./adapter.js";

export const python: RuntimeAdapter = {
  name: "python",
  defaultExtension: ".py",
  extensions: [".py"],
  command: (path) => ["python3", path],
  // Unbuffered so output streams as it is printed, not when the buffer fills.
  env: { PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
};
