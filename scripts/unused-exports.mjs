// Lists the exports of src/ that nothing imports: `node scripts/unused-exports.mjs`
// prints one "file: name" line for each and exits 1 when there is any.
//
// An export is used when a module of src/, test/ or bench/ imports or
// re-exports it (a namespace import or `export *` uses all of a module's
// exports), when a script imports it from dist/, or when it is an export of
// an entry point: src/index.ts (the library's public API) and src/cli/main.ts
// (the CLI bundle's entry). Anything else exported is either dead or needs
// no `export`. Generated code (src/e2b/envd/gen/) is left as generated.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ENTRY_POINTS = ["src/index.ts", "src/cli/main.ts"];
/** Code generated from a wire format's description (npm run generate:envd): all of it describes the format. */
const GENERATED = "src/e2b/envd/gen/";

/**
 * The exports of `root`/src/ nothing uses, as [file relative to `root`,
 * export name], sorted. `root` holds the tsconfig.json naming the modules.
 */
export function findUnusedExports(root = PROJECT_ROOT) {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, "tsconfig.json"),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  );
  if (!config) throw new Error("cannot read tsconfig.json");
  const program = ts.createProgram(config.fileNames, config.options);
  const checker = program.getTypeChecker();
  const ours = program.getSourceFiles().filter((file) => !file.fileName.includes("/node_modules/"));

  /** Every declaration an import or re-export reaches, by its symbol. */
  const used = new Set();
  const useSymbol = (symbol) => {
    if (!symbol) return;
    used.add(symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);
  };
  const useModule = (specifier) => {
    const moduleSymbol = specifier && checker.getSymbolAtLocation(specifier);
    if (moduleSymbol)
      for (const symbol of checker.getExportsOfModule(moduleSymbol)) useSymbol(symbol);
  };

  for (const file of ours) {
    const visit = (node) => {
      if (ts.isImportDeclaration(node)) {
        const bindings = node.importClause?.namedBindings;
        if (node.importClause?.name) useSymbol(checker.getSymbolAtLocation(node.importClause.name));
        if (bindings && ts.isNamespaceImport(bindings)) useModule(node.moduleSpecifier);
        if (bindings && ts.isNamedImports(bindings))
          for (const element of bindings.elements)
            useSymbol(checker.getSymbolAtLocation(element.name));
      } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
        if (!node.exportClause || ts.isNamespaceExport(node.exportClause))
          useModule(node.moduleSpecifier);
        else
          for (const element of node.exportClause.elements)
            useSymbol(checker.getSymbolAtLocation(element.name));
      } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
        useModule(node.argument.literal);
      } else if (
        ts.isCallExpression(node) &&
        node.expression.kind === ts.SyntaxKind.ImportKeyword &&
        node.arguments[0]
      ) {
        useModule(node.arguments[0]);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }

  // Entry points: everything they export is used from outside.
  for (const path of ENTRY_POINTS) {
    const file = program.getSourceFile(join(root, path));
    const moduleSymbol = file && checker.getSymbolAtLocation(file);
    if (moduleSymbol)
      for (const symbol of checker.getExportsOfModule(moduleSymbol)) useSymbol(symbol);
  }

  // Scripts run on the build's output: `import { x } from "../dist/a/b.js"` uses src/a/b.ts's x.
  const usedByScripts = new Set();
  const scripts = existsSync(join(root, "scripts")) ? readdirSync(join(root, "scripts")) : [];
  for (const name of scripts.filter((n) => n.endsWith(".mjs"))) {
    const text = readFileSync(join(root, "scripts", name), "utf8");
    for (const [, names, path] of text.matchAll(
      /import\s*\{([^}]*)\}\s*from\s*"\.\.\/dist\/([^"]+)\.js"/g,
    ))
      for (const imported of names.split(",").map((n) => n.trim().split(/\s+as\s+/)[0]))
        if (imported) usedByScripts.add(`src/${path}.ts: ${imported}`);
  }

  const unused = [];
  for (const file of ours) {
    const path = relative(root, file.fileName);
    if (!path.startsWith("src/") || path.startsWith(GENERATED)) continue;
    const moduleSymbol = checker.getSymbolAtLocation(file);
    if (!moduleSymbol) continue;
    for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
      const target =
        symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      if (used.has(target) || usedByScripts.has(`${path}: ${symbol.name}`)) continue;
      // A re-export of something declared elsewhere is judged where it is declared.
      const declaredHere = target.declarations?.some((d) => d.getSourceFile() === file);
      if (declaredHere) unused.push([path, symbol.name]);
    }
  }
  return unused.sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const unused = findUnusedExports();
  for (const [path, name] of unused) console.log(`${path}: ${name}`);
  if (unused.length > 0) {
    console.error(`${unused.length} exports nothing imports: remove them or drop their export`);
    process.exit(1);
  }
}
