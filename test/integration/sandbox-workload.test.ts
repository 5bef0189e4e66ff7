// A real workload in one long-lived sandbox (runc, node image, the default
// pidsLimit of 512): a dev server answering requests from another process of
// the sandbox, a `node --test` run and an offline `npm install` of a package
// packed in the sandbox, all at once. The sandbox's peak count of processes
// and threads is reported, for the default limit's sake.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Sandbox } from "../../src/sandbox/sandbox.js";
import { RUNC } from "../support/conformance.js";
import { engine } from "../support/engine.js";
import { eventually } from "../support/eventually.js";
import { SANDBOX_NODE_ENGINE } from "../support/sandbox-cases.js";

const isol8 = engine({ ...RUNC.options, ...SANDBOX_NODE_ENGINE });

/** Writes a file in the sandbox (its folders made as needed), as the sandbox user. */
async function writeFile(sandbox: Sandbox, path: string, content: string): Promise<void> {
  const result = await sandbox.commands.run([
    "node",
    "-e",
    "const fs = require('fs'); fs.mkdirSync(require('path').dirname(process.argv[1]), { recursive: true }); fs.writeFileSync(process.argv[1], process.argv[2]);",
    path,
    content,
  ]);
  assert.equal(result.exitCode, 0, result.stderr);
}

const SERVER = `
import { createServer } from "node:http";
let served = 0;
createServer((request, response) => {
  served++;
  response.end(JSON.stringify({ path: request.url, served }));
}).listen(3000, "127.0.0.1", () => console.log("listening"));
`;

const TESTS = `
import assert from "node:assert/strict";
import { test } from "node:test";
test("adds", () => assert.equal(1 + 1, 2));
test("waits", async () => {
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.ok(true);
});
`;

const PACKAGE = {
  "package.json": JSON.stringify({
    name: "greet",
    version: "1.0.0",
    type: "module",
    main: "index.js",
  }),
  "index.js": "export const greet = (name) => `hello ${name}`;\n",
};

/** Prints the highest count of the sandbox's processes and threads whenever it rises. */
const PEAK_SAMPLER = `
f=/sys/fs/cgroup/pids.current; [ -r "$f" ] || f=/sys/fs/cgroup/pids/pids.current
max=0
while :; do
  read -r n < "$f"
  if [ "$n" -gt "$max" ]; then max=$n; echo "$max"; fi
  sleep 0.02
done
`;

test("a dev server queried from the sandbox, a node --test run and an offline npm install run side by side in one sandbox", async (t) => {
  await using sandbox = await isol8.createSandbox({ runtime: "node" });
  assert.equal((await sandbox.getInfo()).pidsLimit, 512);
  await writeFile(sandbox, "/sandbox/app/server.mjs", SERVER);
  await writeFile(sandbox, "/sandbox/app/test/math.test.mjs", TESTS);
  await writeFile(
    sandbox,
    "/sandbox/app/package.json",
    JSON.stringify({ name: "app", private: true }),
  );
  for (const [name, content] of Object.entries(PACKAGE))
    await writeFile(sandbox, `/sandbox/pkg/${name}`, content);

  const sampler = await sandbox.commands.run(PEAK_SAMPLER, { background: true });
  const server = await sandbox.commands.run(["node", "server.mjs"], {
    background: true,
    cwd: "/sandbox/app",
  });
  assert.ok(await eventually(() => server.stdout.includes("listening")), server.stderr);

  let done = 0;
  const queries = (async () => {
    const answers: string[] = [];
    // Queries until the other two are done (and at least three).
    for (let i = 0; done < 2 || i < 3; i++) {
      const query = await sandbox.commands.run([
        "node",
        "-e",
        `fetch("http://127.0.0.1:3000/q${i}").then((r) => r.text()).then((text) => console.log(text))`,
      ]);
      assert.equal(query.exitCode, 0, query.stderr);
      answers.push(query.stdout);
    }
    return answers;
  })();
  const testRun = sandbox.commands
    .run(["node", "--test", "--test-reporter=tap", "test/math.test.mjs"], { cwd: "/sandbox/app" })
    .finally(() => done++);
  const install = (async () => {
    const pack = await sandbox.commands.run(["npm", "pack", "--offline"], { cwd: "/sandbox/pkg" });
    assert.equal(pack.exitCode, 0, pack.stderr);
    const tarball = pack.stdout.trim().split("\n").at(-1);
    assert.equal(tarball, "greet-1.0.0.tgz");
    const installed = await sandbox.commands.run(
      ["npm", "install", "--offline", "--no-audit", "--no-fund", `/sandbox/pkg/${tarball}`],
      { cwd: "/sandbox/app" },
    );
    assert.equal(installed.exitCode, 0, installed.stderr);
    return sandbox.commands.run(
      ["node", "-e", 'import("greet").then(({ greet }) => console.log(greet("sandbox")))'],
      { cwd: "/sandbox/app" },
    );
  })().finally(() => done++);

  const [answers, tested, used] = await Promise.all([queries, testRun, install]);
  assert.equal(tested.exitCode, 0, tested.stdout + tested.stderr);
  assert.match(tested.stdout, /# pass 2/);
  assert.match(tested.stdout, /# fail 0/);
  assert.equal(used.stdout, "hello sandbox\n", used.stderr);
  answers.forEach((answer, i) => {
    assert.equal(JSON.parse(answer).path, `/q${i}`);
  });
  assert.equal(server.exitCode, undefined, "the server still runs");

  await sandbox.commands.kill(sampler.pid);
  const peak = Number(sampler.stdout.trim().split("\n").at(-1));
  t.diagnostic(
    `peak processes and threads in the sandbox: ${peak} of 512; ${answers.length} queries answered`,
  );
  assert.ok(peak > 0 && peak <= 512, `peak ${peak}`);
});
