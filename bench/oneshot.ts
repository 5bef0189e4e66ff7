/**
 * One-shot wall time: `isol8 run` (the CLI, as a user runs it) beside a bare
 * `docker run --rm` of the same image and program, and the interpreter
 * started on the host, all measured in this run on this machine.
 *
 *   npm run build && node --import tsx bench/oneshot.ts [runs per cell, default 15]
 */
import { fileURLToPath } from "node:url";
import type { Runtime } from "../src/types.js";
import {
  atMost,
  percentile,
  printTable,
  printVerdicts,
  type Target,
  timeCommand,
} from "./stats.js";

const runs = Number(process.argv[2] ?? 15);
const cli = fileURLToPath(new URL("../dist/cli/isol8.mjs", import.meta.url));

/** isol8 run's p50 at most 1.2x docker run's for every runtime: what the CLI adds stays small. */
const TARGETS: Target[] = (["python", "node", "bun", "deno", "bash"] as const).map((runtime) =>
  atMost(runtime, `${runtime} isol8 run p50 / docker run --rm p50`, 1.2, "x"),
);

/** The same one-line program three ways: through isol8, in a bare container, on the host. */
const CASES: Record<Runtime, { code: string; docker: string[]; host?: string[] }> = {
  python: {
    code: 'print("hi")',
    docker: ["python3", "-c", 'print("hi")'],
    host: ["/usr/bin/python3", "-c", 'print("hi")'],
  },
  node: {
    code: 'console.log("hi")',
    docker: ["node", "-e", 'console.log("hi")'],
    host: ["node", "-e", 'console.log("hi")'],
  },
  bun: { code: 'console.log("hi")', docker: ["bun", "-e", 'console.log("hi")'] },
  deno: { code: 'console.log("hi")', docker: ["deno", "eval", 'console.log("hi")'] },
  bash: { code: "echo hi", docker: ["bash", "-c", "echo hi"], host: ["bash", "-c", "echo hi"] },
};

const measured = new Map<string, number>();
const rows: (string | number)[][] = [];
for (const [runtime, c] of Object.entries(CASES) as [Runtime, (typeof CASES)[Runtime]][]) {
  const isol8: number[] = [];
  const docker: number[] = [];
  const host: number[] = [];
  const isol8Argv = [process.execPath, cli, "run", "-r", runtime, "-e", c.code];
  const dockerArgv = [
    "docker",
    "run",
    "--rm",
    "--network",
    "none",
    `isol8:${runtime}`,
    ...c.docker,
  ];
  timeCommand(isol8Argv, "hi\n"); // warm the page cache, not the engine: each run is a new process
  timeCommand(dockerArgv, "hi\n");
  for (let i = 0; i < runs; i++) {
    // Interleaved, so drift in the machine's load hits all three alike.
    isol8.push(timeCommand(isol8Argv, "hi\n"));
    docker.push(timeCommand(dockerArgv, "hi\n"));
    if (c.host) host.push(timeCommand(c.host, "hi\n"));
  }
  const ratio = percentile(isol8, 50) / percentile(docker, 50);
  measured.set(runtime, ratio);
  rows.push([
    runtime,
    percentile(isol8, 50),
    percentile(isol8, 95),
    percentile(docker, 50),
    percentile(docker, 95),
    `${ratio.toFixed(2)}x`,
    host.length ? percentile(host, 50) : "-",
  ]);
}

console.log(`\nOne-shot wall time in ms (${runs} runs each, interleaved)\n`);
printTable(
  [
    "runtime",
    "isol8 run p50",
    "p95",
    "docker run --rm p50",
    "p95",
    "isol8/docker",
    "host interpreter p50",
  ],
  rows,
);
printVerdicts(TARGETS, measured);
