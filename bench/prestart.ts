/**
 * Warm execution wall time of `execute()` for a one-line program, on an
 * engine whose pool already holds a started container (default pool), for
 * python, node and bash. Paced: 250 ms idle before each run (the container
 * is wiped and its interpreter prestarted by then). Back-to-back: one run
 * right after the other.
 *
 *   node --import tsx bench/prestart.ts [paced runs, default 40] [back-to-back runs, default 100] [runtime...]
 */
import { DockerIsol8 } from "../src/engine/docker-isol8.js";
import type { Runtime } from "../src/types.js";
import { percentile, printTable, printVerdicts, type Target } from "./stats.js";

const paced = Number(process.argv[2] ?? 40);
const backToBack = Number(process.argv[3] ?? 100);
const chosen = process.argv.slice(4) as Runtime[];
const runtimes: Runtime[] = chosen.length ? chosen : ["python", "node", "bash"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** None: this is the default pool's view of the warm path, whose targets bench/warm.ts states. */
const TARGETS: Target[] = [];

const CODE: Partial<Record<Runtime, string>> = {
  python: 'print("hi")',
  node: 'console.log("hi")',
  bun: 'console.log("hi")',
  deno: 'console.log("hi")',
  bash: "echo hi",
};

async function timeRun(isol8: DockerIsol8, runtime: Runtime): Promise<number> {
  const started = performance.now();
  const result = await isol8.execute({ runtime, code: CODE[runtime] ?? "" });
  const elapsed = performance.now() - started;
  if (result.stdout !== "hi\n" || result.exitCode !== 0)
    throw new Error(`wrong result: ${JSON.stringify(result)}`);
  return elapsed;
}

const rows: (string | number)[][] = [];
for (const runtime of runtimes) {
  const isol8 = new DockerIsol8();
  try {
    for (let i = 0; i < 3; i++) {
      await timeRun(isol8, runtime); // the pool's first containers; the page cache
      await sleep(500);
    }
    const pacedSamples: number[] = [];
    for (let i = 0; i < paced; i++) {
      await sleep(250);
      pacedSamples.push(await timeRun(isol8, runtime));
    }
    await sleep(500);
    const b2b: number[] = [];
    for (let i = 0; i < backToBack; i++) b2b.push(await timeRun(isol8, runtime));
    rows.push([
      runtime,
      percentile(pacedSamples, 50),
      percentile(pacedSamples, 95),
      percentile(b2b, 50),
      percentile(b2b, 95),
    ]);
  } finally {
    await isol8.stop();
  }
}
console.log(
  `\nWarm execute() wall time in ms (paced: ${paced} runs, 250 ms idle before each; back-to-back: ${backToBack} runs)\n`,
);
printTable(["runtime", "paced p50", "paced p95", "back-to-back p50", "back-to-back p95"], rows);
printVerdicts(TARGETS, new Map());
