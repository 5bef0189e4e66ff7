/**
 * Warm-path latency and throughput of the library, beside this machine's own
 * baselines (`docker exec` into a running container, `docker run --rm`, the
 * interpreter started on the host), all measured in this run.
 *
 *   node --import tsx bench/warm.ts [paced runs, default 60] [back-to-back runs, default 200]
 */

import { readFileSync } from "node:fs";
import { createDockerClient } from "../src/backend/docker/client.js";
import { DockerIsol8 } from "../src/engine/docker-isol8.js";
import type { Runtime } from "../src/types.js";
import {
  atLeast,
  atMost,
  dockerExecSamples,
  percentile,
  printTable,
  printVerdicts,
  type Target,
  timeCommand,
} from "./stats.js";

const paced = Number(process.argv[2] ?? 60);
const backToBack = Number(process.argv[3] ?? 200);
const CALLERS = 8;
const SECONDS = 20;

/**
 * Paced: a caller with pauses between runs; back-to-back: runs as fast as they
 * come; the spread keeps the slow runs near the typical one.
 */
const TARGETS: Target[] = [
  atMost("python.paced", "python paced p50", 8, "ms"),
  atMost("bash.paced", "bash paced p50", 5, "ms"),
  atMost("node.paced", "node paced p50", 20, "ms"),
  atMost("python.spread", "python paced p95 / paced p50", 2, "x"),
  atMost("bash.spread", "bash paced p95 / paced p50", 2, "x"),
  atMost("node.spread", "node paced p95 / paced p50", 2, "x"),
  atMost("python.b2b", "python back-to-back p50", 15, "ms"),
  atMost("bash.b2b", "bash back-to-back p50", 8, "ms"),
  atLeast("python.throughput", `python with ${CALLERS} callers`, 50, "executions/s"),
  atMost("python.wrong", `python failed or wrong results with ${CALLERS} callers`, 0, ""),
  atLeast("bash.throughput", `bash with ${CALLERS} callers`, 100, "executions/s"),
  atMost("bash.wrong", `bash failed or wrong results with ${CALLERS} callers`, 0, ""),
  atMost("supervisor", "supervisor resident memory", 8, "MB"),
];
const measured = new Map<string, number>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const PROGRAMS: Record<Runtime, { code: string; argv: string[] }> = {
  python: { code: 'print("hi")', argv: ["python3", "-c", 'print("hi")'] },
  node: { code: 'console.log("hi")', argv: ["node", "-e", 'console.log("hi")'] },
  bun: { code: 'console.log("hi")', argv: ["bun", "-e", 'console.log("hi")'] },
  deno: { code: 'console.log("hi")', argv: ["deno", "eval", 'console.log("hi")'] },
  bash: { code: "echo hi", argv: ["bash", "-c", "echo hi"] },
};
const HOST: Partial<Record<Runtime, string[]>> = {
  python: ["/usr/bin/python3", "-c", 'print("hi")'],
  node: [process.execPath, "-e", 'console.log("hi")'],
  bash: ["bash", "-c", "echo hi"],
};

async function timeRun(isol8: DockerIsol8, runtime: Runtime): Promise<number> {
  const started = performance.now();
  const result = await isol8.execute({ runtime, code: PROGRAMS[runtime].code });
  const elapsed = performance.now() - started;
  if (result.stdout !== "hi\n") throw new Error(`wrong result: ${JSON.stringify(result)}`);
  return elapsed;
}

const latencyRows: (string | number)[][] = [];
const coldRows: (string | number)[][] = [];
for (const runtime of Object.keys(PROGRAMS) as Runtime[]) {
  const coldStart = performance.now();
  const isol8 = new DockerIsol8({ poolSize: { clean: 2, dirty: 2 } });
  let cold = 0;
  const pacedSamples: number[] = [];
  const b2bSamples: number[] = [];
  try {
    await timeRun(isol8, runtime);
    cold = performance.now() - coldStart;
    for (let i = 0; i < paced; i++) {
      await sleep(250);
      pacedSamples.push(await timeRun(isol8, runtime));
    }
    for (let i = 0; i < backToBack; i++) b2bSamples.push(await timeRun(isol8, runtime));
  } finally {
    await isol8.stop();
  }
  measured.set(`${runtime}.paced`, percentile(pacedSamples, 50));
  measured.set(`${runtime}.spread`, percentile(pacedSamples, 95) / percentile(pacedSamples, 50));
  measured.set(`${runtime}.b2b`, percentile(b2bSamples, 50));
  const exec = dockerExecSamples(`isol8:${runtime}`, PROGRAMS[runtime].argv, 15);
  const hostArgv = HOST[runtime];
  const host = hostArgv ? Array.from({ length: 15 }, () => timeCommand(hostArgv, "hi\n")) : [];
  latencyRows.push([
    runtime,
    percentile(pacedSamples, 50),
    percentile(pacedSamples, 95),
    percentile(b2bSamples, 50),
    percentile(b2bSamples, 95),
    percentile(exec, 50),
    host.length ? percentile(host, 50) : "-",
  ]);
  const run = Array.from({ length: 5 }, () =>
    timeCommand(
      ["docker", "run", "--rm", "--network", "none", `isol8:${runtime}`, ...PROGRAMS[runtime].argv],
      "hi\n",
    ),
  );
  coldRows.push([runtime, cold, percentile(run, 50)]);
}

async function throughput(runtime: "python" | "bash", callers: number, seconds: number) {
  const isol8 = new DockerIsol8({
    poolSize: { clean: callers, dirty: callers },
    maxConcurrent: callers,
  });
  let ok = 0;
  let wrong = 0;
  try {
    await timeRun(isol8, runtime);
    const deadline = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: callers }, async (_, caller) => {
        while (performance.now() < deadline) {
          const marker = `${caller}-${ok + wrong}`;
          const code = runtime === "python" ? `print("${marker}")` : `echo ${marker}`;
          try {
            const result = await isol8.execute({ runtime, code });
            if (result.stdout === `${marker}\n` && result.exitCode === 0) ok++;
            else wrong++;
          } catch {
            wrong++;
          }
        }
      }),
    );
  } finally {
    await isol8.stop();
  }
  measured.set(`${runtime}.throughput`, ok / seconds);
  measured.set(`${runtime}.wrong`, wrong);
  return [runtime, String(callers), String(seconds), String(ok), String(wrong), ok / seconds];
}

/** Resident memory of the supervisor (PID 1) of an idle sandbox, read from the host. */
async function supervisorRss(): Promise<number> {
  const isol8 = new DockerIsol8({ mode: "persistent" });
  try {
    const result = await isol8.execute({ runtime: "bash", code: "true" });
    const info = await createDockerClient()
      .getContainer(result.containerId ?? "")
      .inspect();
    const status = readFileSync(`/proc/${info.State.Pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
  } finally {
    await isol8.stop();
  }
}

console.log(
  `\nWarm latency in ms (paced: ${paced} runs, 250 ms idle before each; back-to-back: ${backToBack} runs)\n`,
);
printTable(
  [
    "runtime",
    "paced p50",
    "paced p95",
    "b2b p50",
    "b2b p95",
    "docker exec p50",
    "host interpreter p50",
  ],
  latencyRows,
);
console.log(
  "\nCold: a fresh engine's first execution, beside `docker run --rm` of the same program (ms)\n",
);
printTable(["runtime", "first execution", "docker run --rm p50"], coldRows);
const throughputRows = [
  await throughput("python", CALLERS, SECONDS),
  await throughput("bash", CALLERS, SECONDS),
];
console.log(`\nThroughput: ${CALLERS} concurrent callers for ${SECONDS} s\n`);
printTable(
  ["runtime", "callers", "seconds", "correct", "failed or wrong", "executions/s"],
  throughputRows,
);
const rss = await supervisorRss();
measured.set("supervisor", rss);
console.log(`\nSupervisor resident memory: ${rss.toFixed(2)} MB`);
printVerdicts(TARGETS, measured);
