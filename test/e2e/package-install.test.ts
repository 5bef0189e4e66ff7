// The npm package as a new user meets it: packed from a clean checkout (so
// `prepack` must build dist/), installed from the tarball into an empty
// project (this reaches the npm registry for isol8's dependencies), then
// used from the CLI, from ES modules, from CommonJS and from strict
// TypeScript. One pack and one install are shared by every case.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, normalize, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { cleanEnv } from "../support/cli.js";

const project = realpathSync(new URL("../..", import.meta.url).pathname);
const tsc = join(project, "node_modules/typescript/bin/tsc");
const work = mkdtempSync(join(tmpdir(), "isol8-package-"));
const consumer = join(work, "consumer");
const installed = join(consumer, "node_modules/isol8");

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end (killed after `timeoutMs`). The environment is a
 * user's shell, not this test's: npm's own `npm_*` variables, which an
 * `npm test` run would pass down, are left out so they change nothing.
 */
function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<Ran> {
  const env = options.env ?? cleanEnv();
  for (const name of Object.keys(env)) if (/^npm_/i.test(name)) delete env[name];
  // npm's "new version available" notice would be the only thing on stderr.
  env.npm_config_update_notifier = "false";
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 120_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c));
    child.stderr.on("data", (c: Buffer) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The environment npm runs in here: the user's PATH and HOME (so its cache), nothing of npm's. */
function npmEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
  if (process.env.HOME) env.HOME = process.env.HOME;
  return env;
}

function ok(ran: Ran, what: string): Ran {
  assert.equal(ran.code, 0, `${what} failed:\n${ran.stdout}\n${ran.stderr}`);
  return ran;
}

/** The files a clean clone has: tracked ones and new ones not ignored (so no dist/, no node_modules). */
async function cleanCheckout(into: string): Promise<void> {
  const listed = ok(
    await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
      cwd: project,
      env: npmEnv(),
    }),
    "git ls-files",
  );
  for (const file of listed.stdout.split("\0").filter(Boolean)) {
    if (!existsSync(join(project, file))) continue; // deleted in the working tree
    mkdirSync(dirname(join(into, file)), { recursive: true });
    cpSync(join(project, file), join(into, file));
  }
  // The build's tools (tsc, esbuild) come from the project's own installed dependencies.
  symlinkSync(join(project, "node_modules"), join(into, "node_modules"));
}

/** Packs `dir` into `work` and returns the tarball's path. */
async function pack(dir: string): Promise<string> {
  const packed = ok(
    await run("npm", ["pack", "--json", "--pack-destination", work], {
      cwd: dir,
      env: npmEnv(),
      timeoutMs: 300_000,
    }),
    `npm pack in ${dir}`,
  );
  // prepack's build prints to stdout before npm's JSON report.
  const json = packed.stdout.slice(packed.stdout.indexOf("\n[") + 1);
  return join(work, (JSON.parse(json) as { filename: string }[])[0]?.filename ?? "");
}

/**
 * A package whose install script prints a marker. Installed beside isol8 it
 * shows that this npm, as configured here, runs dependencies' install
 * scripts at all; only then does "no node-gyp in the output" say that
 * nothing needed a native build (and not that npm skipped every script).
 */
const CANARY = "isol8-install-script-canary-ran";
function writeCanaryPackage(dir: string): void {
  mkdirSync(dir);
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({
      name: "install-script-canary",
      version: "1.0.0",
      scripts: { install: `node -e "console.log('${CANARY}')"` },
    }),
  );
}

let install: Ran;
let isol8Tarball: string;

before(
  async () => {
    const checkout = join(work, "checkout");
    await cleanCheckout(checkout);
    assert.ok(!existsSync(join(checkout, "dist")), "a clean checkout has no build");
    isol8Tarball = await pack(checkout);
    writeCanaryPackage(join(work, "canary"));
    const canaryTarball = await pack(join(work, "canary"));

    mkdirSync(consumer);
    writeFileSync(
      join(consumer, "package.json"),
      JSON.stringify({ name: "consumer", version: "1.0.0", private: true }),
    );
    install = ok(
      await run(
        "npm",
        [
          "install",
          "--foreground-scripts",
          "--ignore-scripts=false",
          "--no-audit",
          "--no-fund",
          isol8Tarball,
          canaryTarball,
        ],
        { cwd: consumer, env: npmEnv(), timeoutMs: 600_000 },
      ),
      "npm install of the packed tarball",
    );
  },
  { timeout: 900_000 },
);

// The consumer's node_modules is tens of megabytes: not left behind.
after(() => rmSync(work, { recursive: true, force: true }));

describe("the packed package", () => {
  test("ships its build, its license and every file its documents link to; no source maps", () => {
    assert.ok(existsSync(join(installed, "dist/index.js")), "dist/ is built by prepack");
    assert.ok(existsSync(join(installed, "dist/cli/isol8.mjs")));
    assert.match(
      readFileSync(join(installed, "LICENSE"), "utf8"),
      /MIT License[\s\S]*isol8 contributors/,
    );
    const files = readdirSync(installed, { recursive: true, encoding: "utf8" });
    assert.deepEqual(
      files.filter((f) => f.endsWith(".map")),
      [],
      "source maps would point at sources the package does not ship",
    );
    const broken: string[] = [];
    for (const doc of files.filter((f) => f.endsWith(".md"))) {
      const text = readFileSync(join(installed, doc), "utf8");
      for (const [, link] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (!link || /^[a-z]+:/i.test(link)) continue; // a URL, not a file of the package
        const target = normalize(join(installed, dirname(doc), link));
        if (!target.startsWith(installed) || !existsSync(target))
          broken.push(`${doc} -> ${link} (${relative(installed, target)})`);
      }
    }
    assert.deepEqual(broken, [], "links to files the package does not ship");
  });

  test("installing runs no native build: better-sqlite3 is an optional peer, not installed", () => {
    const output = install.stdout + install.stderr;
    assert.ok(output.includes(CANARY), `npm ran no install script at all here:\n${output}`);
    assert.doesNotMatch(output, /node-gyp|gyp info/, "a dependency compiled a native module");
    assert.ok(!existsSync(join(consumer, "node_modules/better-sqlite3")));
  });

  test('npx isol8 run -e "print(1)" prints 1', async () => {
    const r = await run("npx", ["--no", "isol8", "run", "-e", "print(1)"], { cwd: consumer });
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, "1\n");
    assert.equal(r.code, 0);
  });

  test("isol8 serve without better-sqlite3 says which package to install and how", async () => {
    const r = await run("npx", ["--no", "isol8", "serve", "--port", "0", "--insecure-no-auth"], {
      cwd: consumer,
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 125, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /needs the package better-sqlite3, which is not installed/);
    assert.match(r.stderr, /npm install better-sqlite3/);
  });

  test("an ES module imports DockerIsol8 from isol8 and runs a program with it", async () => {
    writeFileSync(
      join(consumer, "esm.mjs"),
      [
        'import { DockerIsol8 } from "isol8";',
        "const engine = new DockerIsol8();",
        "try {",
        '  const result = await engine.execute({ runtime: "python", code: "print(6 * 7)" });',
        "  console.log(result.stdout.trim(), result.exitCode);",
        "} finally {",
        "  await engine.stop();",
        "}",
      ].join("\n"),
    );
    const r = ok(await run("node", ["esm.mjs"], { cwd: consumer }), "esm.mjs");
    assert.equal(r.stdout, "42 0\n");
  });

  test("require('isol8') gives the ES module itself where Node can require() ES modules", async () => {
    writeFileSync(
      join(consumer, "cjs.cjs"),
      [
        'const required = require("isol8");',
        'import("isol8").then((imported) => {',
        "  console.log(typeof required.DockerIsol8, required.DockerIsol8 === imported.DockerIsol8,",
        "    required.Isol8Error === imported.Isol8Error);",
        "});",
      ].join("\n"),
    );
    const r = ok(await run("node", ["cjs.cjs"], { cwd: consumer }), "cjs.cjs");
    assert.equal(r.stdout, "function true true\n");
  });

  test("require('isol8') where Node cannot require() ES modules says how to import it", async (t) => {
    if (!process.allowedNodeEnvironmentFlags.has("--no-experimental-require-module"))
      return t.skip("this Node has no switch to turn require() of ES modules off");
    writeFileSync(
      join(consumer, "old-cjs.cjs"),
      'try { require("isol8"); } catch (error) { console.log(error.message); process.exit(3); }',
    );
    const r = await run("node", ["--no-experimental-require-module", "old-cjs.cjs"], {
      cwd: consumer,
    });
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stdout,
      /^isol8 is an ES module, and this Node\.js \(v[\d.]+\) cannot load it with require\(\)/,
    );
    assert.ok(r.stdout.includes('import { DockerIsol8 } from "isol8"'), r.stdout);
    assert.ok(r.stdout.includes('await import("isol8")'), r.stdout);
  });

  // A file a TypeScript user might write against the public API. Its two
  // expected-error lines fail the compile if isol8's types were `any` (a
  // type that did not resolve), not only if they were wrong.
  const consumerSource = [
    "import {",
    "  DockerIsol8,",
    "  type DockerIsol8Options,",
    "  type ExecutionRequest,",
    "  type ExecutionResult,",
    "  Isol8Error,",
    "  RemoteIsol8,",
    "  type StreamEvent,",
    '} from "isol8";',
    "",
    "const options: DockerIsol8Options = { timeoutMs: 5000 };",
    "const local = new DockerIsol8(options);",
    'const remote = new RemoteIsol8({ host: "http://127.0.0.1:3000", apiKey: "key" });',
    'const request: ExecutionRequest = { runtime: "python", code: "print(1)" };',
    "",
    "export async function both(): Promise<[string, number]> {",
    "  const a: ExecutionResult = await local.execute(request);",
    "  const b: ExecutionResult = await remote.execute(request);",
    "  for await (const event of local.executeStream(request)) {",
    "    const seen: StreamEvent = event;",
    "    void seen;",
    "  }",
    "  return [a.stdout, b.exitCode];",
    "}",
    "",
    "export function codeOf(error: unknown): string | undefined {",
    "  return error instanceof Isol8Error ? error.code : undefined;",
    "}",
    "",
    "// @ts-expect-error: a runtime isol8 does not have",
    'export const wrong: ExecutionRequest = { runtime: "cobol", code: "" };',
    "// @ts-expect-error: results are typed",
    "export const notANumber: number = ({} as ExecutionResult).stdout;",
  ].join("\n");

  /**
   * Node's types, as every Node project has them, linked from this project's
   * own copy so that nothing more is installed; only them, so that no other
   * of this project's type packages can stand in for one isol8 lacks.
   */
  function nodeTypes(): void {
    const link = join(consumer, "node_modules/@types/node");
    if (existsSync(link)) return;
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(project, "node_modules/@types/node"), link);
  }

  for (const resolution of ["nodenext", "bundler"] as const) {
    test(`strict TypeScript with moduleResolution ${resolution} compiles against the types, no skipLibCheck`, async () => {
      nodeTypes();
      const dir = join(consumer, `ts-${resolution}`);
      mkdirSync(dir);
      // .mts: an ES module under nodenext whatever the consumer's package.json says.
      const file = resolution === "nodenext" ? "use.mts" : "use.ts";
      writeFileSync(join(dir, file), consumerSource);
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            skipLibCheck: false,
            noEmit: true,
            target: "ES2022",
            lib: ["ES2023"],
            module: resolution === "nodenext" ? "nodenext" : "preserve",
            moduleResolution: resolution,
            types: ["node"],
          },
          files: [file],
        }),
      );
      const r = await run("node", [tsc, "-p", dir], { cwd: dir, env: npmEnv() });
      assert.equal(r.code, 0, `tsc (${resolution}):\n${r.stdout}${r.stderr}`);
    });
  }
});
