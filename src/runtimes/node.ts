import { BOOTSTRAP_DIR, SANDBOX_DIR, SYSTEM_CA_BUNDLE, TMP_DIR } from "../sandbox-layout.js";
import type { RuntimeAdapter } from "./adapter.js";
import { BAKED_PACKAGE_JSON, linkNodeModules, projectDir } from "./bake-script.js";
import { NPM_REGISTRY, npmRegistryEnv } from "./npm-registry.js";

/**
 * Pinned versions of the image's binaries: Node.js LTS from
 * `node-linux-<arch>`, and npm (which the node-linux-* packages do not ship).
 * Changing one changes the image's inputs hash: the next `isol8 setup`
 * rebuilds it.
 */
const NODE_VERSION = "24.21.0";
const NPM_VERSION = "11.21.2";

export const node: RuntimeAdapter = {
  name: "node",
  // ES modules unless CommonJS is asked for with .cjs; a .js file lets Node decide from its syntax.
  defaultExtension: ".mjs",
  extensions: [".mjs", ".cjs", ".js"],
  command: (path) => ["node", path],
  env: {},
  // sandbox/bootstrap/node.cjs. NODE_OPTIONS, NODE_PATH and the other NODE_*
  // variables, libuv's and OpenSSL's are read while Node starts, and so is
  // whether to colour (FORCE_COLOR, NO_COLOR): a run setting one starts cold.
  prestart: {
    argv: ["node", `${BOOTSTRAP_DIR}/node.cjs`],
    startupEnv: /^(NODE_\w+|UV_\w+|OPENSSL_\w+|SSL_CERT_\w+|FORCE_COLOR|NO_COLOR)$/,
  },
  // Node has no dup(): bash puts the run's stdin, stdout and stderr on fds 3-5
  // for the kernel. --expose-internals: it uses Node's REPL transform for
  // top-level await.
  kernel: [
    "bash",
    "-c",
    `exec node --expose-internals ${BOOTSTRAP_DIR}/context.cjs 3<&0 4>&1 5>&2`,
  ],
  registry: NPM_REGISTRY,
  installer: {
    argv: (packages) => [
      "npm",
      "install",
      "--no-audit",
      "--no-fund",
      "--no-update-notifier",
      "--no-package-lock",
      "--loglevel=error",
      "--prefix",
      SANDBOX_DIR,
      "--",
      ...packages,
    ],
    // npm's default retries wait up to a minute: an unreachable registry
    // should fail the install, not use up the run's timeout.
    env: (registry) => ({
      ...npmRegistryEnv(registry),
      npm_config_cache: `${TMP_DIR}/.npm`,
      npm_config_fetch_retries: "1",
      npm_config_fetch_retry_mintimeout: "1000",
      npm_config_fetch_retry_maxtimeout: "2000",
    }),
    programEnv: () => ({}),
  },
  bake: {
    script: [
      `export NODE_EXTRA_CA_CERTS=${SYSTEM_CA_BUNDLE}`,
      ...projectDir("node", "package.json", BAKED_PACKAGE_JSON),
      'npm install --no-audit --no-fund --no-update-notifier --cache /tmp/isol8-npm-cache -- "$@"',
      "rm -rf /tmp/isol8-npm-cache /root/.npm",
      linkNodeModules("node"),
    ],
    failureLine: (lines) =>
      lines
        .filter((line) => /^npm (error|ERR!)/.test(line))
        .map((line) => line.replace(/^npm (error|ERR!)\s*/, "").trim())
        .find((line) => line.length > 0 && !/^(code|errno|syscall) |^A complete log /.test(line)),
  },
  image: {
    npmPackages: ({ arch }) => [
      { name: `node-linux-${arch}`, version: NODE_VERSION, dir: "node" },
      { name: "npm", version: NPM_VERSION, dir: "npm" },
    ],
    versionCommand: ["node", "--version"],
  },
};
