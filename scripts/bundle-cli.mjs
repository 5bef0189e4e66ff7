// Bundles the CLI into one file. Node spends most of a short command's
// start-up resolving and loading hundreds of small module files; one file
// loads in about half the time, which the one-shot `isol8 run` feels directly.
// The bundle sits in dist/cli/ so that paths relative to it (package.json,
// sandbox/) resolve the same as from the unbundled modules.
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { build } from "esbuild";

/**
 * dockerode loads an SSH client (for ssh:// DOCKER_HOSTs) and gRPC (for
 * BuildKit sessions) when it is loaded, though a local run needs neither.
 * Inside the bundle both are replaced by stand-ins that load the real module
 * the first time it is actually used, so both features keep working.
 */
const lazyModules = {
  name: "lazy-modules",
  setup(b) {
    const lazy = { ssh2: ["Client"], "@grpc/grpc-js": null, "@grpc/proto-loader": null };
    b.onResolve({ filter: /^(ssh2|@grpc\/grpc-js|@grpc\/proto-loader)$/ }, (args) =>
      args.pluginData === "real"
        ? undefined
        : { path: args.path, namespace: "lazy", pluginData: args.resolveDir },
    );
    b.onLoad({ filter: /.*/, namespace: "lazy" }, (args) => {
      const load = `let real; const load = () => (real ??= require(${JSON.stringify(`${args.path}?real`)}));`;
      const classes = lazy[args.path];
      const contents = classes
        ? `${load}\n${classes.map((c) => `exports.${c} = function ${c}(...a) { return new (load().${c})(...a); };`).join("\n")}`
        : `${load}\nmodule.exports = new Proxy({}, { get: (_, key) => load()[key] });`;
      return { contents, loader: "js", resolveDir: args.pluginData };
    });
    b.onResolve({ filter: /\?real$/ }, async (args) => {
      const resolved = await b.resolve(args.path.slice(0, -"?real".length), {
        kind: args.kind,
        resolveDir: args.resolveDir,
        pluginData: "real",
      });
      return { path: resolved.path };
    });
  },
};

// Chunk names carry a content hash: remove the previous build's.
mkdirSync("dist/cli", { recursive: true });
for (const name of readdirSync("dist/cli", { withFileTypes: true }).map((e) => e.name)) {
  if (/^chunk-.*\.mjs(\.map)?$/.test(name)) rmSync(`dist/cli/${name}`);
}

await build({
  entryPoints: { isol8: "src/cli/main.ts" },
  outdir: "dist/cli",
  outExtension: { ".js": ".mjs" },
  // Code only some commands load with import() (the server, the remote
  // client, and zod with them) goes to chunks next to the entry, so that
  // `isol8 run` does not parse it. Same folder: relative paths still hold.
  splitting: true,
  chunkNames: "chunk-[hash]",
  bundle: true,
  minify: true,
  // No source map: with the sources of every bundled dependency inlined it
  // weighed 8 MB, most of the package, for stack traces that only --debug
  // prints; a debugging session runs the sources from a clone instead.
  sourcemap: false,
  platform: "node",
  target: "node20",
  format: "esm",
  plugins: [lazyModules],
  // ssh2's optional native crypto binding stays a runtime require.
  // better-sqlite3 finds its native module relative to its own package: not bundled.
  external: ["*.node", "better-sqlite3"],
  // Bundled CommonJS dependencies expect these; they only use them on Windows.
  banner: {
    js: [
      "import { createRequire as __isol8Require } from 'node:module';",
      "import { fileURLToPath as __isol8Path } from 'node:url';",
      "const require = __isol8Require(import.meta.url);",
      "const __filename = __isol8Path(import.meta.url);",
      "const __dirname = __isol8Path(new URL('.', import.meta.url));",
    ].join(" "),
  },
  logLevel: "warning",
});
