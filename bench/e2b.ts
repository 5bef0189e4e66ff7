/**
 * The E2B face (`isol8 serve`'s /e2b, driven by E2B's own `e2b` SDK from
 * npm): `Sandbox.create()` then `commands.run("echo hi")` from the server's
 * warm pool, `runCode("1+1")` in a warm context (`@e2b/code-interpreter`),
 * and a 10 MB file written and read with `sandbox.files`;
 * beside this machine's baselines from the same run - `docker run`,
 * `docker exec` into a running container, and the library's own
 * `createSandbox` + `commands.run` from its warm pool. The file's speeds
 * are measured only (no target is stated for them).
 *
 *   node --import tsx bench/e2b.ts [creates, default 30] [file rounds, default 5]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Sandbox as CodeInterpreter } from "@e2b/code-interpreter";
import { Sandbox } from "e2b";
import { DockerIsol8 } from "../src/engine/docker-isol8.js";
import { createIsol8Server } from "../src/server/server.js";
import {
  atMost,
  dockerExecSamples,
  percentile,
  printTable,
  printVerdicts,
  type Target,
  timeCommand,
  timed,
} from "./stats.js";

const creates = Number(process.argv[2] ?? 30);
const fileRounds = Number(process.argv[3] ?? 5);
const FILE_BYTES = 10e6;
const MASTER = "bench-master-key-0123456789";

const TARGETS: Target[] = [
  atMost("create", "E2B SDK: Sandbox.create() + commands.run('echo hi') p50", 60, "ms"),
  atMost("runCode", "E2B code interpreter: runCode('1+1') in a warm context p50", 10, "ms"),
];
const measured = new Map<string, number>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const row = (what: string, values: number[]) => [
  what,
  String(values.length),
  percentile(values, 50),
  percentile(values, 95),
  Math.max(...values),
];

// Baselines.
const dockerRun = Array.from({ length: 10 }, () =>
  timeCommand(
    ["docker", "run", "--rm", "--network", "none", "isol8:bash", "bash", "-c", "echo hi"],
    "hi\n",
  ),
);
const dockerExec = dockerExecSamples("isol8:bash", ["bash", "-c", "echo hi"], 15);
const library: number[] = [];
{
  const isol8 = new DockerIsol8();
  try {
    await (await isol8.createSandbox()).kill();
    for (let i = 0; i < creates; i++) {
      await sleep(1500); // the pool refills
      const [time, made] = await timed(async () => {
        const sandbox = await isol8.createSandbox();
        const result = await sandbox.commands.run("echo hi");
        if (result.stdout !== "hi\n") throw new Error(`wrong result: ${JSON.stringify(result)}`);
        return sandbox;
      });
      library.push(time);
      await made.kill();
    }
  } finally {
    await isol8.stop();
  }
}

// The E2B SDK against a real server on loopback.
const dir = mkdtempSync(join(tmpdir(), "isol8-bench-e2b-"));
const server = await createIsol8Server({
  masterKey: MASTER,
  version: "bench",
  config: { dbPath: join(dir, "server.db") },
  log: () => undefined,
});
const { url } = await server.listen(0, "127.0.0.1");
const e2b = { apiUrl: `${url}/e2b`, sandboxUrl: `${url}/e2b`, apiKey: MASTER };
const sdk: number[] = [];
const writes: number[] = [];
const reads: number[] = [];
const cells: number[] = [];
try {
  await (await Sandbox.create(e2b)).kill();
  for (let i = 0; i < creates; i++) {
    await sleep(1500);
    const [time, made] = await timed(async () => {
      const sandbox = await Sandbox.create(e2b);
      const result = await sandbox.commands.run("echo hi");
      if (result.stdout !== "hi\n") throw new Error(`wrong result: ${JSON.stringify(result)}`);
      return sandbox;
    });
    sdk.push(time);
    await made.kill();
  }
  const sandbox = await Sandbox.create(e2b);
  const data = Buffer.alloc(FILE_BYTES, "e");
  for (let i = 0; i < fileRounds; i++) {
    const [write] = await timed(() => sandbox.files.write("/home/user/ten.bin", data.buffer));
    writes.push(FILE_BYTES / 1e6 / (write / 1000));
    const [read, bytes] = await timed(() =>
      sandbox.files.read("/home/user/ten.bin", { format: "bytes" }),
    );
    if (bytes.length !== FILE_BYTES) throw new Error(`read ${bytes.length} bytes`);
    reads.push(FILE_BYTES / 1e6 / (read / 1000));
  }
  await sandbox.kill();
  const interpreter = await CodeInterpreter.create("base", e2b);
  await interpreter.runCode("1+1"); // starts the default context's kernel
  for (let i = 0; i < creates; i++) {
    await sleep(50);
    const [time, execution] = await timed(() => interpreter.runCode("1+1"));
    if (execution.text !== "2")
      throw new Error(`wrong result: ${JSON.stringify(execution.results)}`);
    cells.push(time);
  }
  await interpreter.kill();
} finally {
  await server.close(2000);
  rmSync(dir, { recursive: true, force: true });
}
measured.set("create", percentile(sdk, 50));
measured.set("runCode", percentile(cells, 50));

console.log("\nA sandbox and its first command, ms");
printTable(
  ["what", "samples", "p50", "p95", "max"],
  [
    row("docker run --rm isol8:bash echo hi", dockerRun),
    row("docker exec into a running container", dockerExec),
    row("library: createSandbox + commands.run (warm pool)", library),
    row("E2B SDK: Sandbox.create + commands.run (warm pool)", sdk),
  ],
);
console.log("\nA cell in a warm context, ms");
printTable(["what", "samples", "p50", "p95", "max"], [row("runCode('1+1')", cells)]);
console.log(`\nA ${FILE_BYTES / 1e6} MB file through the E2B SDK, MB/s (${fileRounds} rounds)`);
printTable(
  ["what", "p50", "min", "max"],
  [
    ["files.write", percentile(writes, 50), Math.min(...writes), Math.max(...writes)],
    ["files.read", percentile(reads, 50), Math.min(...reads), Math.max(...reads)],
  ],
);
console.log("");
printVerdicts(TARGETS, measured);
