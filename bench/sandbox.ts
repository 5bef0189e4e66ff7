/**
 * Long-lived sandboxes (`createSandbox`): starting a command in a running
 * sandbox, a terminal's keystroke round trip (alone, and beside a 1 GB
 * transfer in the same sandbox), a 100 MB file written and read through
 * `sandbox.files` and a watch's event after a change, creating a sandbox from the warm pool, many
 * sandboxes requested at once, and many idle ones (their memory, and a warm
 * command among them), beside this machine's baselines measured in the same
 * run: `docker exec` into a running container and the library's warm
 * `execute`.
 *
 *   node --import tsx bench/sandbox.ts [samples, default 100] [sandboxes at once, default 100] [idle sandboxes, default 500]
 */
import { readFileSync } from "node:fs";
import { createDockerClient } from "../src/backend/docker/client.js";
import { DockerIsol8 } from "../src/engine/docker-isol8.js";
import type { Sandbox } from "../src/sandbox/sandbox.js";
import {
  atLeast,
  atMost,
  dockerExecSamples,
  percentile,
  printTable,
  printVerdicts,
  type Target,
  timed,
} from "./stats.js";

const samples = Number(process.argv[2] ?? 100);
const burst = Number(process.argv[3] ?? 100);
const idle = Number(process.argv[4] ?? 500);
/** Sandboxes created one at a time from the warm pool: each waits for the pool to refill. */
const CREATES = Math.min(samples, 40);
/** Idle sandboxes started at once while filling up to `idle`. */
const START_AT_ONCE = 10;
const TRANSFER_BYTES = 1024 ** 3;
/** The file written and read through `sandbox.files`, in bytes (MB here are 10^6 bytes). */
const FILE_BYTES = 100e6;
/** Each file size's writes and reads; the median counts. */
const FILE_ROUNDS = 5;
/** Long enough for every idle sandbox to be started and measured. */
const SANDBOX_LIFETIME_MS = 3_600_000;

const TARGETS: Target[] = [
  atMost("firstByte", "command start to its first output byte p50", 10, "ms"),
  atMost("keystroke", "terminal keystroke to echo p50", 5, "ms"),
  atMost("keystrokeLoaded", "terminal keystroke to echo during a 1 GB transfer p50", 5, "ms"),
  atLeast("fileWrite", "file write 100 MB (files.write from a stream)", 200, "MB/s"),
  atLeast("fileRead", "file read 100 MB (files.read as a stream)", 200, "MB/s"),
  atMost("watchEvent", "watch event after a change (files.write to its event) p50", 50, "ms"),
  atMost("create", "create a sandbox and run its first command (warm pool) p50", 50, "ms"),
  atMost("burst.failed", `sandboxes failed of ${burst} requested at once`, 0, ""),
  atMost("idle.failed", `sandboxes failed to start of ${idle} idle ones`, 0, ""),
  atMost("idle.warm", `warm command among ${idle} idle sandboxes p50`, 10, "ms"),
];
const measured = new Map<string, number>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const docker = createDockerClient();

/** Runs `echo hi` in a sandbox and checks its answer; its wall time in ms. */
async function echo(sandbox: Sandbox): Promise<number> {
  const [ms, result] = await timed(() => sandbox.commands.run(["echo", "hi"]));
  if (result.stdout !== "hi\n") throw new Error(`wrong result: ${JSON.stringify(result)}`);
  return ms;
}

/** Start to first output byte of `echo hi` in a running sandbox, in ms. */
async function firstByte(sandbox: Sandbox): Promise<number> {
  const started = performance.now();
  let heard: (at: number) => void = () => undefined;
  const first = new Promise<number>((resolve) => {
    heard = resolve;
  });
  const handle = await sandbox.commands.run(["echo", "hi"], {
    background: true,
    onStdout: () => heard(performance.now()),
  });
  const at = await first;
  await handle.wait();
  return at - started;
}

/**
 * A terminal running `cat` in raw mode, so each keystroke goes to the
 * program and its echo is the program's output; `press` sends one key and
 * resolves with the ms until it came back.
 */
async function terminal(sandbox: Sandbox) {
  let screen = "";
  let waiting: { key: string; resolve: () => void } | undefined;
  const pty = await sandbox.pty.create({
    cols: 80,
    rows: 24,
    cmd: "stty raw -echo && echo ready && exec cat",
    onData: (data) => {
      screen += Buffer.from(data).toString("latin1");
      if (waiting && screen.includes(waiting.key)) {
        screen = "";
        waiting.resolve();
      }
    },
  });
  while (!screen.includes("ready")) await sleep(10);
  screen = "";
  let n = 0;
  const press = async (): Promise<number> => {
    const key = String.fromCharCode(97 + (n++ % 26));
    const back = new Promise<void>((resolve) => {
      waiting = { key, resolve };
    });
    const started = performance.now();
    await pty.sendStdin(key);
    await back;
    return performance.now() - started;
  };
  return { press, close: () => pty.kill() };
}

/** A process writing `TRANSFER_BYTES` to its stdout, read by a consumer that counts them. */
async function transfer(sandbox: Sandbox) {
  let bytes = 0;
  const started = performance.now();
  const handle = await sandbox.commands.run(["head", "-c", String(TRANSFER_BYTES), "/dev/zero"], {
    background: true,
    onStdout: (data) => {
      bytes += data.length;
    },
  });
  return {
    running: () => handle.exitCode === undefined,
    done: async () => {
      await handle.wait();
      if (bytes !== TRANSFER_BYTES) throw new Error(`the transfer delivered ${bytes} bytes`);
      return TRANSFER_BYTES / 2 ** 20 / ((performance.now() - started) / 1000);
    },
  };
}

/** A container's memory as `docker stats` counts it (its cgroup's usage less inactive file pages), in bytes. */
async function containerMemory(sandbox: Sandbox): Promise<number> {
  const id = (await sandbox.commands.run("hostname")).stdout.trim();
  const pid = (await docker.getContainer(id).inspect()).State.Pid;
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
  const v1 = lines.find((line) => /^\d+:memory:/.test(line));
  if (v1) {
    const dir = `/sys/fs/cgroup/memory${v1.split(":")[2]}`;
    const stat = readFileSync(`${dir}/memory.stat`, "utf8");
    const inactive = Number(/^total_inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0);
    return Number(readFileSync(`${dir}/memory.usage_in_bytes`, "utf8")) - inactive;
  }
  const v2 = lines.find((line) => line.startsWith("0::"));
  const dir = `/sys/fs/cgroup${v2?.slice(3) ?? ""}`;
  const stat = readFileSync(`${dir}/memory.stat`, "utf8");
  const inactive = Number(/^inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0);
  return Number(readFileSync(`${dir}/memory.current`, "utf8")) - inactive;
}

/** `FILE_BYTES` of one 1 MiB buffer over and over, as a write's stream: the source costs nothing. */
async function* fileData(): AsyncGenerator<Uint8Array> {
  const chunk = Buffer.alloc(2 ** 20, "isol8 ");
  for (let sent = 0; sent < FILE_BYTES; sent += chunk.length)
    yield chunk.subarray(0, Math.min(chunk.length, FILE_BYTES - sent));
}

/** One write of `FILE_BYTES` into /sandbox and one read of it back; each in MB/s. */
async function fileRound(sandbox: Sandbox): Promise<{ write: number; read: number }> {
  const [writeMs, entry] = await timed(() => sandbox.files.write("/sandbox/file.bin", fileData()));
  if (entry.size !== FILE_BYTES) throw new Error(`wrote ${entry.size} bytes`);
  const [readMs, bytes] = await timed(async () => {
    let count = 0;
    for await (const chunk of await sandbox.files.read("/sandbox/file.bin", { format: "stream" }))
      count += chunk.length;
    return count;
  });
  if (bytes !== FILE_BYTES) throw new Error(`read ${bytes} bytes`);
  const rate = (ms: number) => FILE_BYTES / 1e6 / (ms / 1000);
  return { write: rate(writeMs), read: rate(readMs) };
}

/**
 * A watch of /sandbox/watched; `change` writes a new file there and
 * resolves with the ms from the write's call to its `create` event.
 */
async function watched(sandbox: Sandbox) {
  await sandbox.files.makeDir("/sandbox/watched");
  let waiting: { name: string; resolve: (at: number) => void } | undefined;
  const watch = await sandbox.files.watchDir("/sandbox/watched", (event) => {
    if (waiting && event.type === "create" && event.name === waiting.name)
      waiting.resolve(performance.now());
  });
  let n = 0;
  const change = async (): Promise<number> => {
    const name = `f${n++}`;
    const seen = new Promise<number>((resolve) => {
      waiting = { name, resolve };
    });
    const started = performance.now();
    await sandbox.files.write(`/sandbox/watched/${name}`, "x");
    return (await seen) - started;
  };
  return { change, stop: () => watch.stop() };
}

const ms = (values: number[]) => [
  percentile(values, 50),
  percentile(values, 95),
  Math.max(...values),
];

// Baselines: docker exec into a running container, and the library's warm execute.
const exec = dockerExecSamples("isol8:bash", ["bash", "-c", "echo hi"], 15);
const warm: number[] = [];
{
  const isol8 = new DockerIsol8();
  try {
    await isol8.execute({ runtime: "bash", code: "echo hi" });
    for (let i = 0; i < Math.min(samples, 60); i++) {
      await sleep(100);
      const [time, result] = await timed(() => isol8.execute({ runtime: "bash", code: "echo hi" }));
      if (result.stdout !== "hi\n") throw new Error(`wrong result: ${JSON.stringify(result)}`);
      warm.push(time);
    }
  } finally {
    await isol8.stop();
  }
}

// One running sandbox: commands, a terminal, and the terminal beside a transfer.
const firstBytes: number[] = [];
const runs: number[] = [];
const keystrokes: number[] = [];
const loadedKeystrokes: number[] = [];
const throughputs: number[] = [];
const fileWrites: number[] = [];
const fileReads: number[] = [];
const watchEvents: number[] = [];
{
  const isol8 = new DockerIsol8();
  try {
    const sandbox = await isol8.createSandbox({ timeoutMs: SANDBOX_LIFETIME_MS });
    await echo(sandbox);
    for (let i = 0; i < samples; i++) {
      await sleep(50);
      firstBytes.push(await firstByte(sandbox));
      await sleep(50);
      runs.push(await echo(sandbox));
    }
    const keys = await terminal(sandbox);
    for (let i = 0; i < samples; i++) {
      await sleep(20);
      keystrokes.push(await keys.press());
    }
    while (loadedKeystrokes.length < samples) {
      const load = await transfer(sandbox);
      while (load.running() && loadedKeystrokes.length < samples) {
        await sleep(20);
        const time = await keys.press();
        // Only keystrokes made while the transfer still ran count.
        if (load.running()) loadedKeystrokes.push(time);
      }
      throughputs.push(await load.done());
    }
    await keys.close();
    for (let i = 0; i < FILE_ROUNDS; i++) {
      const round = await fileRound(sandbox);
      fileWrites.push(round.write);
      fileReads.push(round.read);
    }
    await sandbox.files.remove("/sandbox/file.bin");
    const watch = await watched(sandbox);
    for (let i = 0; i < samples; i++) {
      await sleep(20);
      watchEvents.push(await watch.change());
    }
    await watch.stop();
  } finally {
    await isol8.stop();
  }
}
measured.set("firstByte", percentile(firstBytes, 50));
measured.set("keystroke", percentile(keystrokes, 50));
measured.set("keystrokeLoaded", percentile(loadedKeystrokes, 50));
measured.set("fileWrite", percentile(fileWrites, 50));
measured.set("fileRead", percentile(fileReads, 50));
measured.set("watchEvent", percentile(watchEvents, 50));

// Creating sandboxes: one at a time from a warm pool, then `burst` at once.
const creates: number[] = [];
let cold = 0;
{
  const isol8 = new DockerIsol8();
  try {
    const [first, sandbox] = await timed(async () => {
      const created = await isol8.createSandbox();
      await echo(created);
      return created;
    });
    cold = first;
    await sandbox.kill();
    for (let i = 0; i < CREATES; i++) {
      await sleep(Math.max(1000, 2 * cold)); // the pool refills
      const [time, created] = await timed(async () => {
        const made = await isol8.createSandbox();
        await echo(made);
        return made;
      });
      creates.push(time);
      await created.kill();
    }
  } finally {
    await isol8.stop();
  }
}
measured.set("create", percentile(creates, 50));

const burstTimes: number[] = [];
let burstFailed = 0;
let burstWall = 0;
{
  const isol8 = new DockerIsol8();
  try {
    const [wall, outcomes] = await timed(() =>
      Promise.allSettled(
        Array.from({ length: burst }, () =>
          timed(async () => {
            const made = await isol8.createSandbox({ timeoutMs: SANDBOX_LIFETIME_MS });
            await echo(made);
            return made;
          }),
        ),
      ),
    );
    burstWall = wall;
    for (const outcome of outcomes) {
      if (outcome.status === "fulfilled") burstTimes.push(outcome.value[0]);
      else burstFailed++;
    }
  } finally {
    await isol8.stop();
  }
}
measured.set("burst.failed", burstFailed);

// Idle sandboxes: their memory, and a warm command in one of them.
const memories: number[] = [];
const idleWarm: number[] = [];
let idleFailed = 0;
let engineRssPerSandbox = 0;
{
  const isol8 = new DockerIsol8();
  const sandboxes: Sandbox[] = [];
  try {
    const rssBefore = process.memoryUsage().rss;
    while (sandboxes.length + idleFailed < idle) {
      const count = Math.min(START_AT_ONCE, idle - sandboxes.length - idleFailed);
      const started = await Promise.allSettled(
        Array.from({ length: count }, () =>
          isol8.createSandbox({ timeoutMs: SANDBOX_LIFETIME_MS }),
        ),
      );
      for (const outcome of started) {
        if (outcome.status === "fulfilled") sandboxes.push(outcome.value);
        else idleFailed++;
      }
    }
    await sleep(2000); // settled: nothing of their start-up still running
    engineRssPerSandbox = (process.memoryUsage().rss - rssBefore) / Math.max(1, sandboxes.length);
    for (const sandbox of sandboxes) memories.push(await containerMemory(sandbox));
    for (let i = 0; i < samples && sandboxes.length > 0; i++) {
      await sleep(50);
      idleWarm.push(await echo(sandboxes[(i * 7919) % sandboxes.length] as Sandbox));
    }
  } finally {
    await isol8.stop();
  }
}
measured.set("idle.failed", idleFailed);
measured.set("idle.warm", percentile(idleWarm, 50));

console.log(
  `\nBaselines in ms (\`echo hi\`; docker exec: 15 runs, warm execute: ${warm.length} runs)\n`,
);
printTable(
  ["path", "p50", "p95", "max"],
  [
    ["docker exec into a running container (isol8:bash)", ...ms(exec)],
    ["library warm execute (bash, pooled container)", ...ms(warm)],
  ],
);
console.log(
  `\nOne running sandbox, ms (${samples} samples each, paced; keystrokes: \`cat\` on a raw terminal)\n`,
);
printTable(
  ["measurement", "p50", "p95", "max"],
  [
    ["command start to first output byte (echo hi)", ...ms(firstBytes)],
    ["command run to its result (echo hi)", ...ms(runs)],
    ["keystroke to echo", ...ms(keystrokes)],
    ["keystroke to echo during a 1 GB transfer", ...ms(loadedKeystrokes)],
  ],
);
console.log(
  `\n1 GB transfers beside the terminal: ${throughputs.length}, ${percentile(throughputs, 50).toFixed(0)} MiB/s p50 (stdout of head -c 1G /dev/zero, read by the caller)`,
);
console.log(
  `\nFiles of the same sandbox (sandbox.files; ${FILE_ROUNDS} rounds of a ${FILE_BYTES / 1e6} MB file, MB/s; the watch: ${watchEvents.length} new files, ms from files.write's call to their create event)\n`,
);
printTable(
  ["measurement", "p50", "min", "max"],
  [
    [
      "file write (from a stream)",
      percentile(fileWrites, 50),
      Math.min(...fileWrites),
      Math.max(...fileWrites),
    ],
    [
      "file read (as a stream)",
      percentile(fileReads, 50),
      Math.min(...fileReads),
      Math.max(...fileReads),
    ],
  ],
);
console.log("");
printTable(
  ["measurement", "p50", "p95", "max"],
  [["watch event after files.write", ...ms(watchEvents)]],
);
console.log(`\nCreating sandboxes, ms (create and run \`echo hi\`)\n`);
printTable(
  ["what", "sandboxes", "failed", "p50", "p99", "max", "wall"],
  [
    ["first, cold pool", "1", "0", cold, cold, cold, cold],
    [
      "one at a time, warm pool",
      String(CREATES),
      "0",
      percentile(creates, 50),
      percentile(creates, 99),
      Math.max(...creates),
      "-",
    ],
    [
      "all requested at once",
      String(burst),
      String(burstFailed),
      percentile(burstTimes, 50),
      percentile(burstTimes, 99),
      Math.max(...burstTimes),
      burstWall,
    ],
  ],
);
const mib = (bytes: number) => bytes / 2 ** 20;
console.log(
  `\n${idle} idle sandboxes: memory per sandbox is its container's cgroup usage less inactive file pages (what \`docker stats\` shows), in MiB; the warm command runs in one of them\n`,
);
printTable(
  [
    "started",
    "failed",
    "memory p50",
    "memory mean",
    "memory max",
    "engine rss / sandbox",
    "warm cmd p50",
    "warm cmd p95",
  ],
  [
    [
      String(memories.length),
      String(idleFailed),
      mib(percentile(memories, 50)),
      mib(memories.reduce((a, b) => a + b, 0) / Math.max(1, memories.length)),
      mib(Math.max(...memories)),
      mib(engineRssPerSandbox),
      percentile(idleWarm, 50),
      percentile(idleWarm, 95),
    ],
  ],
);
printVerdicts(TARGETS, measured);
