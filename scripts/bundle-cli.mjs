// Bundles the CLI into one file. Node spends most of a short command's
// start-up resolving and loading hundreds of small module files; one file
// loads in about half the time, which the one-shot `isol8 run` feels directly.
// The bundle sits in dist/cli/ so that paths relative to it (package.json,
// sandbox/) resolve the same as from the unbundled modules.
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { build } from "esbuild";

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
  // better-sqlite3 finds its native module relative to its own package: not bundled.
  external: ["better-sqlite3"],
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
