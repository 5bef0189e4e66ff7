import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
// @ts-expect-error: a plain JavaScript build script, without types
import { findUnusedExports } from "../../scripts/unused-exports.mjs";

type Unused = [file: string, name: string][];

test("no module of src/ exports what nothing imports", () => {
  assert.deepEqual(findUnusedExports() as Unused, []);
});

test("an export counts as used only when something imports it or an entry point exports it", (t) => {
  const root = mkdtempSync(join(tmpdir(), "isol8-unused-exports-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const files: Record<string, string> = {
    "tsconfig.json": JSON.stringify({
      compilerOptions: {
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        types: [],
      },
      include: ["src", "test"],
    }),
    "src/index.ts": 'export { fromIndex } from "./a.js";\nexport const publicValue = 1;\n',
    "src/a.ts": [
      "export const fromIndex = 1;",
      "export const imported = 2;",
      "export type ImportedType = { a: number };",
      "export const onlyHere = 3;",
      "export const unused = onlyHere;",
      "export function dead(): void {}",
    ].join("\n"),
    "src/b.ts":
      'import { imported, type ImportedType } from "./a.js";\nconst x: ImportedType = { a: imported };\nvoid x;\nexport const inTest = 1;\nexport const byScript = 2;\n',
    "src/c.ts": "export const all = 1;\nexport const ofThem = 2;\n",
    "test/t.ts":
      'import { inTest } from "../src/b.js";\nimport * as c from "../src/c.js";\nvoid inTest;\nvoid c;\n',
    "scripts/s.mjs": 'import { byScript } from "../dist/b.js";\nconsole.log(byScript);\n',
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  assert.deepEqual(findUnusedExports(root) as Unused, [
    ["src/a.ts", "dead"],
    ["src/a.ts", "onlyHere"],
    ["src/a.ts", "unused"],
  ]);
});
