import assert from "node:assert/strict";
import { test } from "node:test";
import { Isol8Error } from "../../src/errors.js";
import { loadOptionalDependency, MissingDependencyError } from "../../src/optional-dependency.js";
import { KeyStore } from "../../src/server/auth/key-store.js";

const missing = "isol8-test-package-that-is-not-installed";

test("a package that is not installed is a MissingDependencyError naming it and its install command", async () => {
  await assert.rejects(
    loadOptionalDependency({
      name: missing,
      neededBy: "The test feature",
      load: () => import(missing),
    }),
    (error: unknown) => {
      assert.ok(error instanceof MissingDependencyError);
      assert.ok(error instanceof Isol8Error);
      assert.equal(error.code, "MISSING_DEPENDENCY");
      assert.match(
        error.message,
        /^The test feature needs the package isol8-test-package-that-is-not-installed, which is not installed\./,
      );
      assert.ok(error.message.includes(`npm install ${missing}`), error.message);
      assert.ok(!error.message.includes("\n"), "one line, as the CLI prints it");
      assert.equal((error.cause as NodeJS.ErrnoException).code, "ERR_MODULE_NOT_FOUND");
      return true;
    },
  );
});

test("a package that is installed but fails to load keeps its own error", async () => {
  const broken = new Error("Could not locate the bindings file");
  await assert.rejects(
    loadOptionalDependency({
      name: "better-sqlite3",
      neededBy: "x",
      load: () => Promise.reject(broken),
    }),
    (error: unknown) => error === broken,
  );
  // A module missing inside the package is the package's own failure, not "install it".
  const inner = Object.assign(new Error("Cannot find module 'bindings'"), {
    code: "MODULE_NOT_FOUND",
  });
  await assert.rejects(
    loadOptionalDependency({
      name: "better-sqlite3",
      neededBy: "x",
      load: () => Promise.reject(inner),
    }),
    (error: unknown) => error === inner,
  );
});

test("an installed package is returned as it loads", async () => {
  const sqlite = await loadOptionalDependency({
    name: "better-sqlite3",
    neededBy: "x",
    load: () => import("better-sqlite3"),
  });
  assert.equal(typeof sqlite.default, "function");
  // The key store loads it the same way: with it installed, a store opens.
  const store = await KeyStore.open(":memory:");
  assert.equal(store.create({ name: "k" }).info.name, "k");
});
