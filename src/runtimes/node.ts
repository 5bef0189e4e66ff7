import { BOOTSTRAP_DIR, type RuntimeAdapter } from "./adapter.js";

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
};
