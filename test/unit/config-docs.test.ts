import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { z } from "zod";
import { configSchema } from "../../src/config/file.js";

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
}

/** Every leaf key path of the config file's schema, e.g. `defaults.network`. */
function keyPaths(schema: JsonSchema, prefix = ""): string[] {
  return Object.entries(schema.properties ?? {}).flatMap(([key, child]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return child.type === "object" && child.properties ? keyPaths(child, path) : [path];
  });
}

test("the configuration reference documents exactly the keys the loader accepts", () => {
  const schemaKeys = keyPaths(z.toJSONSchema(configSchema, { io: "input" }) as JsonSchema).sort();
  const page = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
  const documented = [...page.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] as string).sort();
  assert.ok(schemaKeys.includes("defaults.network") && schemaKeys.length > 20, schemaKeys.join());
  assert.deepEqual(documented, schemaKeys);
});
