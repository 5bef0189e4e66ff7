/**
 * `isol8 serve` over loopback, in two parts. First its overhead over the
 * library: a warm python run paced (one at a time, a short pause before
 * each) through DockerIsol8 in this process with the server's own engine
 * options, through POST /execute from a keep-alive client (RemoteIsol8 on
 * Node's fetch), and streamed over the WebSocket, interleaved; overhead is
 * the server's p50 less the library's. Then bounded load: 16 concurrent
 * clients for 30 s, each cycling through a buffered execution (POST
 * /execute), a streamed one (RemoteIsol8.executeStream over WebSocket) and
 * an upload + download of a session file (POST /file, GET /file). Every
 * answer is checked. Prints correct/failed counts and p50/p95 latency per
 * kind, throughput, and the server process's RSS at the start and the end.
 * Stops by itself.
 *
 *   node --import tsx bench/server-load.ts [clients, default 16] [seconds, default 30] [paced runs per path, default 200]
 *
 * BENCH_SERVER_CONFIG names a server configuration file; BENCH_SERVER_NODE_ARGS
 * holds Node's flags for the server (`--cpu-prof --cpu-prof-dir=<dir>` profiles it).
 */

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createDockerClient } from "../src/backend/docker/client.js";
import { RemoteIsol8 } from "../src/client/remote-isol8.js";
import { DockerIsol8 } from "../src/engine/docker-isol8.js";
import { LABELS } from "../src/engine/labels.js";
import { labelNamesProcess } from "../src/engine/owner.js";
import { admitOptions } from "../src/server/admission.js";
import { loadServerConfigFile, resolveServerConfig } from "../src/server/config.js";
import type { StreamEvent } from "../src/types.js";
import { atMost, percentile, printTable, printVerdicts, type Target } from "./stats.js";

const clients = Number(process.argv[2] ?? 16);
const seconds = Number(process.argv[3] ?? 30);
const pacedRuns = Number(process.argv[4] ?? 200);
/** Idle time before each paced run: long enough that runs never overlap, short enough to end soon. */
const PAUSE_MS = 100;
const KEY = "bench-master-key-0123456789";
const kinds = ["execute", "stream", "upload"] as const;
type Kind = (typeof kinds)[number];

/**
 * The server within a millisecond and a half of the library for a warm paced
 * run, buffered and streamed; every answer right under load, and nothing left
 * behind once the server has stopped.
 */
const TARGETS: Target[] = [
  atMost("http.overhead", "POST /execute p50 - library p50, paced", 1.5, "ms"),
  atMost("ws.overhead", "WebSocket stream p50 - library p50, paced", 1.5, "ms"),
  atMost("execute.failed", "execute: failed or wrong answers", 0, ""),
  atMost("stream.failed", "stream: failed or wrong answers", 0, ""),
  atMost("upload.failed", "upload: failed or wrong answers", 0, ""),
  atMost("containers.left", "server's containers left after it stopped", 0, ""),
];
const measured = new Map<string, number>();

/**
 * Counts the containers the server created (its owner label) that still exist,
 * after giving Docker's AutoRemove a few seconds to finish the last ones, and
 * removes them: the count is the measurement, the machine is left clean.
 */
async function containersLeft(serverPid: number): Promise<number> {
  const docker = createDockerClient();
  // Docker matches a label's whole value, which also holds the server's start time and boot id.
  const listLeft = async () =>
    (await docker.listContainers({ all: true, filters: { label: [LABELS.owner] } })).filter((c) =>
      labelNamesProcess(c.Labels[LABELS.owner], hostname(), serverPid),
    );
  const deadline = Date.now() + 15_000;
  let left = await listLeft();
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    left = await listLeft();
  }
  await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true })));
  return left.length;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

async function startServer(dbDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      // Node's own flags for the server, e.g. --cpu-prof to profile it.
      ...(process.env.BENCH_SERVER_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
      "--import",
      "tsx",
      "src/cli/main.ts",
      "serve",
      "--port",
      "0",
      "--bind",
      "127.0.0.1",
      "--key",
      KEY,
      "--db",
      join(dbDir, "server.db"),
      ...(process.env.BENCH_SERVER_CONFIG ? ["--config", process.env.BENCH_SERVER_CONFIG] : []),
    ],
    // Its log has an entry per request: kept out of the report, its tail shown if it fails to start.
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  child.stderr?.on("data", (c: Buffer) => {
    log = (log + c.toString()).slice(-4000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`server exited ${code}: ${log}`)));
  });
  return { child, url };
}

const samples: Record<Kind, number[]> = { execute: [], stream: [], upload: [] };
const failures: Record<Kind, number> = { execute: 0, stream: 0, upload: 0 };
const firstErrors: string[] = [];

async function once(kind: Kind, client: number, n: number, url: string): Promise<void> {
  const started = performance.now();
  try {
    if (kind === "execute") {
      const result = await new RemoteIsol8({ host: url, apiKey: KEY }).execute({
        runtime: "python",
        code: `print(${client} * ${n})`,
      });
      if (result.stdout !== `${client * n}\n` || result.exitCode !== 0)
        throw new Error(`execute: ${JSON.stringify(result.stdout)}`);
    } else if (kind === "stream") {
      let out = "";
      let exit = "";
      for await (const event of new RemoteIsol8({ host: url, apiKey: KEY }).executeStream({
        runtime: "bash",
        cmd: `for i in 1 2 3; do echo ${n}-$i; done`,
      })) {
        if (event.type === "stdout") out += event.data;
        if (event.type === "exit") exit = event.data;
      }
      if (out !== `${n}-1\n${n}-2\n${n}-3\n` || exit !== "0")
        throw new Error(`stream: ${JSON.stringify(out)}`);
    } else {
      const session = new RemoteIsol8({ host: url, apiKey: KEY, sessionId: `bench-${client}` });
      const bytes = randomBytes(64 * 1024);
      await session.putFile(`/sandbox/f${n % 4}.bin`, bytes);
      const back = await session.getFile(`/sandbox/f${n % 4}.bin`);
      if (!back.equals(bytes)) throw new Error("upload: bytes differ");
    }
    samples[kind].push(performance.now() - started);
  } catch (error) {
    failures[kind]++;
    if (firstErrors.length < 5) firstErrors.push(`${kind}: ${(error as Error).message}`);
  }
}

type Path = "library" | "http" | "ws" | "httpFloor" | "wsFloor";
const PATHS: Path[] = ["library", "http", "ws", "httpFloor", "wsFloor"];
const PATH_NAMES: Record<Path, string> = {
  library: "library (DockerIsol8.execute)",
  http: "POST /execute (keep-alive)",
  ws: "WebSocket stream",
  httpFloor: "baseline: POST to a server answering at once",
  wsFloor: "baseline: WebSocket to a server answering at once",
};

/** The loopback echo server (bench/loopback-echo.ts) replaying these answers, and its URL. */
async function startEcho(
  result: unknown,
  events: unknown[],
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/loopback-echo.ts"], {
    stdio: ["ignore", "pipe", "inherit"],
    env: {
      ...process.env,
      ECHO_RESULT: JSON.stringify(result),
      ECHO_EVENTS: JSON.stringify(events),
    },
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`echo server exited ${code}`)));
  });
  return { child, url };
}

/**
 * The same warm python run through the library, POST /execute and the
 * WebSocket, `pacedRuns` times each, interleaved (the order rotates each
 * round) so that the machine's load falls on all alike. The library's
 * engine has the options the server gives a request that asks for none.
 * Beside them, the floor of the transport: the same client and requests
 * against a process that answers with the server's own answer bytes at once.
 */
async function pacedComparison(url: string): Promise<void> {
  const config = resolveServerConfig(
    process.env.BENCH_SERVER_CONFIG ? loadServerConfigFile(process.env.BENCH_SERVER_CONFIG) : {},
  );
  const library = new DockerIsol8(admitOptions(config));
  const remote = new RemoteIsol8({ host: url, apiKey: KEY, transport: "websocket" });
  const request = { runtime: "python", code: 'print("hi")' } as const;
  // The server's answers, for the echo server to replay.
  const result = await remote.execute(request);
  const events: unknown[] = [];
  for await (const event of remote.executeStream(request)) events.push(event);
  const echo = await startEcho(result, events);
  const floor = new RemoteIsol8({ host: echo.url, apiKey: KEY, transport: "websocket" });
  const stdoutOf = async (run: AsyncIterable<StreamEvent>) => {
    let out = "";
    for await (const event of run) if (event.type === "stdout") out += event.data;
    return out;
  };
  const runOnce: Record<Path, () => Promise<string>> = {
    library: async () => (await library.execute(request)).stdout,
    http: async () => (await remote.execute(request)).stdout,
    ws: () => stdoutOf(remote.executeStream(request)),
    httpFloor: async () => (await floor.execute(request)).stdout,
    wsFloor: () => stdoutOf(floor.executeStream(request)),
  };
  const paced: Record<Path, number[]> = {
    library: [],
    http: [],
    ws: [],
    httpFloor: [],
    wsFloor: [],
  };
  try {
    for (const path of PATHS) await runOnce[path](); // warm: the pools are filled
    for (let round = 0; round < pacedRuns; round++) {
      for (let i = 0; i < PATHS.length; i++) {
        const path = PATHS[(round + i) % PATHS.length] as Path;
        await new Promise((r) => setTimeout(r, PAUSE_MS));
        const t = performance.now();
        const out = await runOnce[path]();
        paced[path].push(performance.now() - t);
        if (out !== "hi\n") throw new Error(`${path}: wrong output ${JSON.stringify(out)}`);
      }
    }
  } finally {
    echo.child.kill();
    await library.stop();
  }
  const p50 = (path: Path) => percentile(paced[path], 50);
  console.log(
    `\nWarm python, paced (${pacedRuns} runs per path, interleaved, ${PAUSE_MS} ms idle before each), ms\n`,
  );
  const overhead: Partial<Record<Path, number>> = {
    http: p50("http") - p50("library"),
    ws: p50("ws") - p50("library"),
  };
  const floorOf: Partial<Record<Path, number>> = { http: p50("httpFloor"), ws: p50("wsFloor") };
  printTable(
    ["path", "p50", "p90", "p99", "overhead p50 (- library)", "of it the transport's floor"],
    PATHS.map((path) => [
      PATH_NAMES[path],
      p50(path),
      percentile(paced[path], 90),
      percentile(paced[path], 99),
      overhead[path]?.toFixed(2) ?? "-",
      floorOf[path]?.toFixed(2) ?? "-",
    ]),
  );
  measured.set("http.overhead", overhead.http ?? Number.NaN);
  measured.set("ws.overhead", overhead.ws ?? Number.NaN);
}

const dbDir = mkdtempSync(join(tmpdir(), "isol8-bench-"));
const { child, url } = await startServer(dbDir);
const pid = child.pid ?? 0;
try {
  // Warm up: one of each, so the first samples are not the server's start-up.
  for (const kind of kinds) await once(kind, 1, 0, url);
  for (const kind of kinds) {
    samples[kind] = [];
    failures[kind] = 0;
  }
  firstErrors.length = 0;
  await pacedComparison(url);
  const rssStart = rssMiB(pid);
  // RSS every 5 s: flat memory shows as a plateau after the pools have filled.
  const rssSamples: number[] = [];
  const sampler = setInterval(() => rssSamples.push(rssMiB(pid)), 5000);
  const deadline = Date.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let n = 1; Date.now() < deadline; n++)
        await once(kinds[(client + n) % kinds.length] as Kind, client + 1, n, url);
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const rssEnd = rssMiB(pid);
  const total = kinds.reduce((sum, k) => sum + samples[k].length, 0);
  console.log(
    `\n${clients} clients for ${elapsed.toFixed(1)} s against ${url} (${availableParallelism()} cores; loopback)\n`,
  );
  printTable(
    ["kind", "correct", "failed", "p50 ms", "p95 ms"],
    kinds.map((k) => [
      k,
      String(samples[k].length),
      String(failures[k]),
      percentile(samples[k], 50),
      percentile(samples[k], 95),
    ]),
  );
  console.log(`\nthroughput: ${(total / elapsed).toFixed(1)} correct operations/s`);
  console.log(`server RSS: ${rssStart.toFixed(1)} MiB at start, ${rssEnd.toFixed(1)} MiB at end`);
  console.log(`server RSS every 5 s (MiB): ${rssSamples.map((r) => r.toFixed(0)).join(" ")}`);
  if (firstErrors.length) console.log(`first failures:\n  ${firstErrors.join("\n  ")}`);
  for (const kind of kinds) measured.set(`${kind}.failed`, failures[kind]);
} finally {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
  rmSync(dbDir, { recursive: true, force: true });
}
const left = await containersLeft(pid);
console.log(`containers of the server left after it stopped: ${left}`);
measured.set("containers.left", left);
printVerdicts(TARGETS, measured);
