// The pool sizes and engine timeouts the docs quote are the ones the code
// defaults to: the library's engine (DEFAULTS) and the server's (its schema).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { DEFAULTS } from "../../src/engine/options.js";
import { resolveServerConfig } from "../../src/server/config.js";

const page = (name: string) => readFileSync(new URL(`../../docs/${name}`, import.meta.url), "utf8");
const pair = ({ clean, dirty }: { clean: number; dirty: number }) =>
  `{ clean: ${clean}, dirty: ${dirty} }`;
const server = resolveServerConfig().engines;

/** Every `{ clean: N, dirty: M }` that follows `lead` on the page. */
function quoted(text: string, lead: RegExp): string[] {
  const pattern = new RegExp(`${lead.source}\\{ clean: \\d+, dirty: \\d+ \\}`, "g");
  return [...text.matchAll(pattern)].map((m) => (/\{.*\}/.exec(m[0]) as RegExpExecArray)[0]);
}

test("the library's pool default is DEFAULTS.poolSize wherever the docs give it", () => {
  const library = page("library.md");
  assert.deepEqual(quoted(library, /`poolSize` \| `"fast"` \/ `/), [pair(DEFAULTS.poolSize)]);
  assert.deepEqual(quoted(page("configuration.md"), /DockerIsol8` keeps `poolSize` `/), [
    pair(DEFAULTS.poolSize),
  ]);
});

test("the server's pool default is its schema's wherever the docs give it, and equal to maxConcurrent's", () => {
  assert.equal(server.poolSize.clean, resolveServerConfig().maxConcurrent);
  assert.equal(server.poolSize.dirty, resolveServerConfig().maxConcurrent);
  // http-api.md's configuration paragraph names it inside `engines`, as `poolSize`.
  const leads: [string, RegExp][] = [
    ["library.md", /`engines\.poolSize` `/],
    ["configuration.md", /`engines\.poolSize` `/],
    ["http-api.md", /`(?:engines\.)?poolSize` `/],
  ];
  for (const [name, lead] of leads) {
    const found = quoted(page(name), lead);
    assert.ok(found.length > 0, `${name} quotes the server's pool`);
    assert.deepEqual(
      found,
      found.map(() => pair(server.poolSize)),
      name,
    );
  }
  const api = page("http-api.md");
  assert.ok(api.includes(`\`engines.poolSize.clean\` (${server.poolSize.clean})`));
  assert.ok(api.includes(`\`engines.poolSize.dirty\` (${server.poolSize.dirty})`));
  assert.ok(api.includes(`\`engines.maxIdle\` (${server.maxIdle})`));
  assert.ok(api.includes(`\`engines.idleTimeoutMs\` (${server.idleTimeoutMs / 60_000} min)`));
  assert.ok(
    api.includes(
      `\`maxIdle\` ${server.maxIdle}, \`idleTimeoutMs\` ${server.idleTimeoutMs / 60_000} min`,
    ),
  );
});

test("no page quotes a pool size that is neither default nor none", () => {
  const allowed = [pair(DEFAULTS.poolSize), pair(server.poolSize), pair({ clean: 0, dirty: 0 })];
  for (const name of ["library.md", "configuration.md", "http-api.md", "performance.md"]) {
    for (const size of quoted(page(name), /(?:)/))
      assert.ok(allowed.includes(size), `${name}: ${size}`);
  }
});
