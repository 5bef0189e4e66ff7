/**
 * Regenerates bench/RESULTS.md from one run: every benchmark below, each as a
 * child process with the arguments listed here, its output copied verbatim
 * under a header of facts about this machine gathered now. Numbers and
 * verdicts come only from the benchmarks' output; the notes here say why a
 * number is what it is, never what it is. Progress goes to stderr.
 *
 *   npm run bench:results
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem, type } from "node:os";
import { fileURLToPath } from "node:url";

interface Benchmark {
  title: string;
  script: string;
  args: string[];
  /** What the benchmark does and why its numbers are what they are; no numbers. */
  notes: string;
}

const BENCHMARKS: Benchmark[] = [
  {
    title: "One-shot CLI",
    script: "oneshot.ts",
    args: ["15"],
    notes: `\`isol8 run\` as a user runs it (a new process each time), a bare \`docker run --rm\` of the
same image and program, and the interpreter started on the host, interleaved. What bounds the
ratio: Node.js itself has to start before isol8 does anything (the Docker CLI, a Go binary, starts
in a few milliseconds), and isol8 then makes the same create, attach and start calls that
\`docker run\` makes. The CLI is bundled into one file and loads its SSH and gRPC dependencies
lazily to keep its own start-up small, and it does not wait for Docker to finish removing the
container (Docker's AutoRemove does that).`,
  },
  {
    title: "Warm path through the library",
    script: "warm.ts",
    args: ["60", "200"],
    notes: `A warm execution makes no Docker API call: the container is already running, and the request,
the output and the exit report travel over its attached stdio. \`docker exec\` of the same program
into a running container is the usual way to reuse a container. Node back-to-back is bounded by
Node.js's own start-up in a container: with runs arriving faster than that, the interpreter
prestarted after the previous run is often still starting. Deno and Bun have no prestarted
interpreter; their warm latency is the interpreter's start-up.`,
  },
  {
    title: "The server under load",
    script: "server-load.ts",
    args: ["16", "90"],
    notes: `\`isol8 serve\` on loopback. First, with nothing else running, one client compares the
same warm python run through the library (an engine in the benchmark's process with the options
the server gives such a request), through POST /execute (Node's fetch, keep-alive) and through the
WebSocket, interleaved; the overhead is what HTTP or the WebSocket, JSON, authentication,
admission, the log and a second process add. The baselines are the same client and requests
against a process that answers with the server's own answer bytes at once: that much of the
overhead is the client and the loopback transport, which any server costs (the WebSocket opens a
new connection per run). Then load: each client cycles through a buffered python execution (POST
/execute), a streamed bash execution (WebSocket) and a 64 KiB session-file upload and download;
every answer is checked. Server memory rises while the warm pools fill; the samples every 5 s show
whether it levels off after that.`,
  },
  {
    title: "Code contexts",
    script: "context.ts",
    args: ["100", "500"],
    notes: `One context per runtime on a warm engine; each call is \`x += 1\` in the live interpreter (the
state is checked at the end). A call is one stdin frame to the supervisor and a few JSON lines
back; nothing starts, so it is faster than a plain warm execution, which still starts the program
in a prestarted interpreter. Paced calls cost more than back-to-back ones: after the idle pause
the processes on both ends have to be woken and scheduled again. A node call has more to do (its
cell output goes through a worker thread), and a node context starts cold (its kernel needs
\`--expose-internals\`, which the prestarted interpreter does not have), where a python context
takes the pool's prestarted interpreter.`,
  },
  {
    title: "Warm path with the default pool",
    script: "prestart.ts",
    args: ["40", "100"],
    notes: `The same warm \`execute()\` as bench/warm.ts, on an engine with the default pool size, for the
runtimes with a prestarted interpreter and bash.`,
  },
  {
    title: "E2B face",
    script: "e2b.ts",
    args: ["30", "5"],
    notes: `E2B's own \`e2b\` SDK (from npm) against an \`isol8 serve\` in the same process on loopback, with
\`E2B_API_URL\` and \`E2B_SANDBOX_URL\` at its /e2b: \`Sandbox.create()\` is one POST to the control
plane, which takes a sandbox from the server's warm pool, and \`commands.run\` one Connect stream
to its envd; the library's own \`createSandbox\` + \`commands.run\` is the same work without HTTP.
\`runCode\` (\`@e2b/code-interpreter\`) is one POST streaming JSON lines back; the cell goes to a
kernel process already running in the sandbox. A 10 MB file is one multipart POST to envd's
/files and one GET.`,
  },
  {
    title: "Long-lived sandboxes",
    script: "sandbox.ts",
    args: ["100", "100", "500"],
    notes: `\`createSandbox\` with the engine's defaults (python image, runc). A command in a running
sandbox is one frame to its supervisor, which forks and execs it; nothing starts but the program,
so it is close to the library's warm \`execute\` and far below \`docker exec\`, which goes through
Docker's API and runc for every process. The terminal runs \`cat\` in raw mode, so a keystroke
goes to the program and back; during the transfer, the terminal's frames share the channel and the
engine's event loop with 64 KiB output frames, which the supervisor sends round-robin under each
process's credit window. A file written or read through \`sandbox.files\` crosses the same channel
in 64 KiB frames, at most 256 KiB of it unanswered, with no \`docker exec\` or tar; a watch's event
is one frame from the supervisor's inotify read, so it follows the write that caused it by about a
round trip. A sandbox from the warm pool needs no Docker API call; requested all at
once, all but the pool's one are started at the same time, so their time is Docker's for that many
containers on this machine. An idle sandbox runs only its supervisor, so its memory is that process's
and what the kernel keeps for its container.`,
  },
];

const root = fileURLToPath(new URL("..", import.meta.url));

/** Output of a command, or what went wrong: a missing fact should not stop the run. */
function ask(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { cwd: root, encoding: "utf8" }).trim();
  } catch (error) {
    return `unknown (${command} ${args.join(" ")}: ${(error as Error).message.split("\n")[0]})`;
  }
}

function osName(): string {
  try {
    const release = readFileSync("/etc/os-release", "utf8");
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(release)?.[1] ?? type();
  } catch {
    return type();
  }
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ");

function machineFacts(): string[] {
  const cpuList = cpus();
  const dirty = ask("git", ["status", "--porcelain", "--untracked-files=no"]) !== "";
  return [
    `- OS: ${osName()}, kernel ${release()}`,
    `- CPU: ${cpuList.length} cores (${cpuList[0]?.model.trim() ?? "unknown model"})`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- Docker Engine ${ask("docker", ["version", "--format", "{{.Server.Version}}"])}, cgroup v${ask("docker", ["info", "--format", "{{.CgroupVersion}} (driver {{.CgroupDriver}}), default runtime {{.DefaultRuntime}}"])}`,
    `- Node.js ${process.version}`,
    `- isol8 commit ${ask("git", ["rev-parse", "--short", "HEAD"])}${dirty ? " with uncommitted changes" : ""}`,
  ];
}

/** Runs one benchmark; its stdout is kept, its stderr goes straight to ours. */
function run(bench: Benchmark): Promise<{ stdout: string; code: number | null; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", `bench/${bench.script}`, ...bench.args],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.once("error", reject);
    child.once("close", (code) =>
      resolve({ stdout, code, seconds: (performance.now() - started) / 1000 }),
    );
  });
}

const facts = machineFacts();
const startedAt = new Date();
const loadBefore = load();
const sections: string[] = [];
let failed = 0;
for (const [i, bench] of BENCHMARKS.entries()) {
  const command = `node --import tsx bench/${bench.script} ${bench.args.join(" ")}`;
  process.stderr.write(`[${i + 1}/${BENCHMARKS.length}] ${command}\n`);
  const result = await run(bench);
  process.stderr.write(
    `[${i + 1}/${BENCHMARKS.length}] ${bench.script}: exit ${result.code} after ${result.seconds.toFixed(0)} s\n`,
  );
  if (result.code !== 0) failed++;
  sections.push(
    [
      `## ${bench.title}: \`${command}\``,
      "",
      bench.notes,
      "",
      "```text",
      result.stdout.trim(),
      "```",
      ...(result.code === 0
        ? []
        : ["", `The benchmark failed (exit code ${result.code}); its output above is incomplete.`]),
    ].join("\n"),
  );
}
const minutes = (Date.now() - startedAt.getTime()) / 60_000;

const document = [
  "# Benchmark results",
  "",
  "Generated by `npm run bench:results` (bench/results.ts) from one run of every benchmark below;",
  "each section names the command and shows its output verbatim, verdict table included. Each",
  "benchmark states its targets in its own script and computes its verdicts from this run's",
  "measurements. Baselines (`docker run`, `docker exec`, the interpreter on the host) are measured",
  "in the same run on the same machine.",
  "",
  `Run on ${startedAt.toISOString()}, ${minutes.toFixed(1)} minutes, on:`,
  "",
  ...facts,
  `- load average (1 / 5 / 15 min): ${loadBefore} before the run, ${load()} after it`,
  "",
  ...sections.flatMap((s) => [s, ""]),
].join("\n");
writeFileSync(new URL("RESULTS.md", import.meta.url), document);
process.stderr.write(`wrote bench/RESULTS.md${failed ? `; ${failed} benchmark(s) failed` : ""}\n`);
process.exitCode = failed ? 1 : 0;
