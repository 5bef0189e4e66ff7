/**
 * Code contexts: the latency of one warm call (a cell in a live interpreter),
 * beside this machine's baselines measured in the same run: a plain warm
 * `execute` of the same runtime, `docker exec` of the interpreter into a
 * running container, and the interpreter started on the host. Also the time
 * to create a context.
 *
 *   node --import tsx bench/context.ts [paced calls, default 100] [back-to-back calls, default 500]
 */

import { DockerIsol8 } from "../src/engine/docker-isol8.js";
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

const paced = Number(process.argv[2] ?? 100);
const backToBack = Number(process.argv[3] ?? 500);

/** A call into a live python context: nothing starts, so it has to beat a warm execute(). */
const TARGETS: Target[] = [
  atMost("python.paced", "python context call paced p50", 5, "ms"),
  atMost("python.b2b", "python context call back-to-back p50", 5, "ms"),
];
const measured = new Map<string, number>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CELLS: Record<"python" | "node", { setup: string; step: string; check: string }> = {
  python: { setup: "x = 0", step: "x += 1", check: "x" },
  node: { setup: "let x = 0", step: "x += 1", check: "x" },
};
const PLAIN: Record<"python" | "node", { code: string; argv: string[]; host: string[] }> = {
  python: {
    code: 'print("hi")',
    argv: ["python3", "-c", 'print("hi")'],
    host: ["/usr/bin/python3", "-c", 'print("hi")'],
  },
  node: {
    code: 'console.log("hi")',
    argv: ["node", "-e", 'console.log("hi")'],
    host: [process.execPath, "-e", 'console.log("hi")'],
  },
};

const latency: (string | number)[][] = [];
const creation: (string | number)[][] = [];
for (const runtime of ["python", "node"] as const) {
  const isol8 = new DockerIsol8({ poolSize: { clean: 2, dirty: 2 } });
  const creates: number[] = [];
  const pacedSamples: number[] = [];
  const b2bSamples: number[] = [];
  const plain: number[] = [];
  try {
    // Warm the pool first: the cold start of the first container is not the context's.
    await isol8.execute({ runtime, code: PLAIN[runtime].code });
    await sleep(500);
    for (let i = 0; i < 5; i++) {
      const [ms, context] = await timed(() => isol8.createContext({ runtime }));
      creates.push(ms);
      await isol8.closeContext(context.id);
      await sleep(500); // the pool refills
    }
    const { id } = await isol8.createContext({ runtime });
    const call = async (code: string) => {
      const [ms, result] = await timed(() => isol8.execute({ runtime, code, contextId: id }));
      if (result.exitCode !== 0) throw new Error(`cell failed: ${JSON.stringify(result)}`);
      return [ms, result] as const;
    };
    await call(CELLS[runtime].setup);
    for (let i = 0; i < paced; i++) {
      await sleep(100);
      pacedSamples.push((await call(CELLS[runtime].step))[0]);
    }
    for (let i = 0; i < backToBack; i++) b2bSamples.push((await call(CELLS[runtime].step))[0]);
    const [, last] = await call(CELLS[runtime].check);
    if (last.value !== String(paced + backToBack))
      throw new Error(`wrong state: ${last.value} after ${paced + backToBack} calls`);

    // The plain warm path of the same engine, for comparison.
    for (let i = 0; i < 40; i++) {
      await sleep(250);
      const [ms, result] = await timed(() => isol8.execute({ runtime, code: PLAIN[runtime].code }));
      if (result.stdout !== "hi\n") throw new Error(`wrong result: ${JSON.stringify(result)}`);
      plain.push(ms);
    }
  } finally {
    await isol8.stop();
  }
  measured.set(`${runtime}.paced`, percentile(pacedSamples, 50));
  measured.set(`${runtime}.b2b`, percentile(b2bSamples, 50));
  const exec = dockerExecSamples(`isol8:${runtime}`, PLAIN[runtime as "python"].argv, 15);
  const host = Array.from({ length: 15 }, () => timeCommand(PLAIN[runtime].host, "hi\n"));
  latency.push([
    runtime,
    percentile(pacedSamples, 50),
    percentile(pacedSamples, 95),
    percentile(b2bSamples, 50),
    percentile(b2bSamples, 95),
    percentile(plain, 50),
    percentile(exec, 50),
    percentile(host, 50),
  ]);
  creation.push([runtime, percentile(creates, 50), Math.max(...creates)]);
}

console.log(
  `\nContext call latency in ms (\`x += 1\` in a live context; paced: ${paced} calls, 100 ms idle before each; back-to-back: ${backToBack} calls)\n`,
);
printTable(
  [
    "runtime",
    "context paced p50",
    "paced p95",
    "context b2b p50",
    "b2b p95",
    "plain warm execute p50",
    "docker exec p50",
    "host interpreter p50",
  ],
  latency,
);
console.log("\nCreating a context (warm pool), ms: 5 each\n");
printTable(["runtime", "createContext p50", "max"], creation);
printVerdicts(TARGETS, measured);
