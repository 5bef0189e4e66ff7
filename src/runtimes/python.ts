import { BOOTSTRAP_DIR, SANDBOX_DIR } from "../sandbox-layout.js";
import type { RuntimeAdapter } from "./adapter.js";

/** Where pip puts a run's packages; the program finds them through PYTHONPATH. */
const PYTHON_PACKAGES_DIR = `${SANDBOX_DIR}/.packages`;

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
  kernel: ["python3", `${BOOTSTRAP_DIR}/context.py`],
  registry: { kind: "pip", defaultHosts: ["pypi\\.org", "files\\.pythonhosted\\.org"] },
  installer: {
    // -I: the installer ignores PYTHON* variables and does not import from
    // its working directory, where an earlier run may have left a "pip".
    argv: (packages) => [
      "python3",
      "-I",
      "-m",
      "pip",
      "install",
      "--quiet",
      "--no-warn-script-location",
      "--target",
      PYTHON_PACKAGES_DIR,
      "--",
      ...packages,
    ],
    env: (index) => {
      const env: Record<string, string> = {
        PIP_DISABLE_PIP_VERSION_CHECK: "1",
        PIP_NO_CACHE_DIR: "1",
        PIP_ROOT_USER_ACTION: "ignore",
        PIP_RETRIES: "1",
      };
      if (index) {
        env.PIP_INDEX_URL = index;
        if (index.startsWith("http:")) env.PIP_TRUSTED_HOST = new URL(index).hostname;
      }
      return env;
    },
    programEnv: () => ({ PYTHONPATH: PYTHON_PACKAGES_DIR }),
  },
  bake: {
    script: [
      'if ! python3 -m pip --version >/dev/null 2>&1; then echo "ERROR: pip is not installed in this image; run \\`isol8 setup\\` to rebuild isol8:python" >&2; exit 1; fi',
      'python3 -m pip install --no-cache-dir --break-system-packages --root-user-action=ignore --disable-pip-version-check --no-input --progress-bar off -- "$@"',
    ],
    failureLine: (lines) => lines.findLast((line) => /^ERROR: /.test(line)),
  },
  // python3 and pip are Debian's, installed by sandbox/dockerfiles/python.Dockerfile.
  image: { versionCommand: ["python3", "--version"] },
};
