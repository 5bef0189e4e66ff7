import { BOOTSTRAP_DIR, type RuntimeAdapter } from "./adapter.js";

export const python: RuntimeAdapter = {
  name: "python",
  defaultExtension: ".py",
  extensions: [".py"],
  command: (path) => ["python3", path],
  // Unbuffered so output streams as it is printed, not when the buffer fills.
  env: { PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
  // sandbox/bootstrap/python.py. Every PYTHON* variable is read at start-up
  // (flags, sys.path, hash seed, I/O encoding), so a run setting one starts cold.
  prestart: { argv: ["python3", `${BOOTSTRAP_DIR}/python.py`], startupEnv: /^PYTHON/ },
};
