// Which folders of src/ may import which: the client and the server share
// the wire shapes in src/wire/, and neither reaches into the other, so the
// client can be read (and shipped) without the server behind it.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../../src");

/** Every .ts file under `folder` of src/, as a path from src/. */
function sources(folder: string): string[] {
  return readdirSync(join(SRC, folder), { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => join(folder, name));
}

/** The relative modules a source file imports or re-exports, as paths from src/ (static and dynamic). */
function importsOf(file: string, text = readFileSync(join(SRC, file), "utf8")): string[] {
  const specifiers = [...text.matchAll(/\b(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map(
    (match) => match[1] as string,
  );
  return specifiers
    .filter((specifier) => specifier.startsWith("."))
    .map((specifier) => relative(SRC, resolve(join(SRC, dirname(file)), specifier)));
}

/** The imports of `folder`'s files that land in one of `forbidden` (folders of src/). */
function crossings(folder: string, forbidden: string[]): string[] {
  return sources(folder).flatMap((file) =>
    importsOf(file)
      .filter((target) => forbidden.some((other) => target.startsWith(`${other}/`)))
      .map((target) => `${file} -> ${target}`),
  );
}

describe("module boundaries", () => {
  test("the import scan sees static, type-only, re-exported and dynamic imports", () => {
    const text = [
      'import { a } from "../server/a.js";',
      'import type { B } from "../server/b.js";',
      'export { c } from "../server/c.js";',
      'const d = await import("../server/d.js");',
      'import { e } from "zod";',
    ].join("\n");
    assert.deepEqual(importsOf("client/x.ts", text), [
      "server/a.js",
      "server/b.js",
      "server/c.js",
      "server/d.js",
    ]);
  });

  test("the client imports nothing from the server", () => {
    assert.ok(sources("client").length > 0);
    assert.deepEqual(crossings("client", ["server"]), []);
  });

  test("the wire shapes import nothing from the server or the client", () => {
    assert.ok(sources("wire").length > 0);
    assert.deepEqual(crossings("wire", ["server", "client"]), []);
  });
});
