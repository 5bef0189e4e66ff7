// No client or program can make the engine's process grow without bound: a
// gigabyte pushed through each path that carries a program's input or
// files - WebSocket stdin (with and without the client honouring
// back-pressure), a sandbox file up and down, GET /file, outputPaths over
// HTTP and in the library -
// leaves the process's peak resident memory (VmHWM, reset before each push)
// within RSS_BOUND_BYTES of its idle figure, and the server keeps answering
// another client meanwhile. And an engine killed outright takes every
// sandbox it held with it.
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import { cleanEnv } from "../support/cli.js";
import { containersOf, docker } from "../support/containers.js";
import { eventually } from "../support/eventually.js";
import { type ServedCli, serveCli } from "../support/serve-cli.js";

const KEY = "memory-bounds-master-key-0123456789";
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
/** What each push sends through the engine. */
const PUSH_BYTES = GIB;
/**
 * How far the engine's resident memory may rise above idle while a client
 * pushes a gigabyte through it. What the engine holds for one push is a
 * fixed amount, whatever the push's size: about 1 MB of stdin waiting per
 * connection, one WebSocket message, one run's maxOutputSize of files (16
 * MiB here, which with their base64 and the JSON answer costs about nine
 * times that: 150 MB measured). 256 MB leaves V8 room for its garbage,
 * while a quarter of the gigabyte held would pass it.
 */
const RSS_BOUND_BYTES = 256 * MIB;
/** maxOutputSize of the outputPaths runs: the most bytes their files may return. */
const OUTPUT_BYTES = 16 * MIB;
/** Each WebSocket stdin message's data. */
const STDIN_CHUNK = MIB;

/** Bytes of a /proc/PID/status field (VmRSS, VmHWM). */
function procBytes(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  assert.ok(match?.[1], `${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Sets the process's peak resident memory (VmHWM) back to what it holds now. */
function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

/** Bytes the process has read from files and sockets so far (rchar of /proc/PID/io). */
function bytesRead(pid: number): number {
  const match = /^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
  assert.ok(match?.[1], `rchar in /proc/${pid}/io`);
  return Number(match[1]);
}

const mb = (bytes: number) => `${(bytes / MIB).toFixed(0)} MB`;

/** A request of another client while a push runs: /health, and a tiny run, must answer. */
async function otherClientAnswers(url: string): Promise<void> {
  const signal = AbortSignal.timeout(60_000);
  const health = await fetch(`${url}/health`, { signal });
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, "ok");
  const run = await fetch(`${url}/execute`, {
    method: "POST",
    headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify({ request: { runtime: "bash", cmd: "echo alive" } }),
    signal,
  });
  const text = await run.text();
  assert.equal(run.status, 200, text);
  assert.equal((JSON.parse(text) as { stdout: string }).stdout, "alive\n");
}

/**
 * Runs `push` while another client keeps asking the server for /health and
 * a tiny run, and returns its result with the process's peak resident
 * memory over `idle` during it.
 */
async function measured<T>(
  pid: number,
  idle: number,
  url: string | undefined,
  push: () => Promise<T>,
): Promise<{ result: T; growth: number; before: number; answers: number }> {
  resetPeak(pid);
  const before = procBytes(pid, "VmRSS") - idle;
  let pushing = true;
  let answers = 0;
  const other = (async () => {
    while (url && pushing) {
      await otherClientAnswers(url);
      answers++;
      // A breath between rounds: the push, not this client, should have the CPU.
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  // Its failure is reported once the push is over, below.
  other.catch(() => undefined);
  let result: T;
  try {
    result = await push();
  } finally {
    pushing = false;
    await other;
  }
  return { result, growth: procBytes(pid, "VmHWM") - idle, before, answers };
}

function assertBounded(
  t: { diagnostic(message: string): void },
  what: string,
  { growth, before, answers }: { growth: number; before: number; answers: number },
  expectAnswers = true,
) {
  t.diagnostic(
    `${what}: peak resident memory ${mb(growth)} above idle (${mb(before)} when the push began); ${answers} answers to another client`,
  );
  assert.ok(growth < RSS_BOUND_BYTES, `${what}: peak ${mb(growth)} above idle`);
  if (expectAnswers) assert.ok(answers > 0, `${what}: another client was answered`);
}

/** A WebSocket run: its events as they come, and the close code at the end. */
interface WsRun {
  ws: WebSocket;
  events: { type: string; data?: string }[];
  closed: Promise<number>;
  /** Resolves once the program's stdout so far holds `text`. */
  stdoutHolds(text: string): Promise<void>;
}

async function wsRun(url: string, request: object, options: object): Promise<WsRun> {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/execute/ws`, {
    headers: { Authorization: `Bearer ${KEY}` },
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const events: WsRun["events"] = [];
  const waiters: { text: string; resolve: () => void }[] = [];
  let stdout = "";
  ws.on("message", (data: Buffer) => {
    const event = JSON.parse(data.toString()) as WsRun["events"][number];
    events.push(event);
    if (event.type === "stdout") stdout += event.data;
    for (const waiter of waiters) if (stdout.includes(waiter.text)) waiter.resolve();
  });
  const closed = new Promise<number>((resolve) =>
    ws.once("close", (code: number) => resolve(code)),
  );
  ws.send(JSON.stringify({ type: "execute", request, options }));
  return {
    ws,
    events,
    closed,
    stdoutHolds: (text) =>
      new Promise<void>((resolve) => {
        if (stdout.includes(text)) resolve();
        else waiters.push({ text, resolve });
      }),
  };
}

/**
 * Sends up to `total` bytes of stdin the way a well-behaved client does:
 * each message only once the one before has been written to the socket,
 * so when the server stops reading, so does the client. Returns the bytes
 * sent when the total was reached or the connection closed.
 */
async function pushHonouringBackPressure(ws: WebSocket, total: number): Promise<number> {
  const message = JSON.stringify({ type: "stdin", data: "a".repeat(STDIN_CHUNK) });
  const closed = new Promise<false>((resolve) => ws.once("close", () => resolve(false)));
  let sent = 0;
  while (sent < total && ws.readyState === ws.OPEN) {
    const written = new Promise<boolean>((resolve) =>
      ws.send(message, (error) => resolve(error === undefined || error === null)),
    );
    if (!(await Promise.race([written, closed]))) break;
    sent += STDIN_CHUNK;
  }
  return sent;
}

/** A client-to-server WebSocket text frame (masked, as a client must send). */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const length = payload.length;
  const head =
    length < 126
      ? Buffer.from([0x81, 0x80 | length])
      : length < 65536
        ? Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x81, 0x80 | 127]), Buffer.alloc(8)]);
  if (length >= 65536) head.writeBigUInt64BE(BigInt(length), 2);
  const mask = randomBytes(4);
  for (let i = 0; i < length; i++) payload[i] = (payload[i] as number) ^ (mask[i & 3] as number);
  return Buffer.concat([head, mask, payload]);
}

/**
 * A client that ignores back-pressure: a raw WebSocket that queues `total`
 * bytes of `frame` (by default a 1 MiB stdin message) at once, the same
 * buffer over and over, so the queue costs this process nothing. What
 * comes back is read only to notice the words waited for.
 */
async function floodingClient(
  url: string,
  request: object,
  options: object,
  total: number,
  frame = clientFrame(JSON.stringify({ type: "stdin", data: "a".repeat(STDIN_CHUNK) })),
) {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => undefined);
  socket.write(
    [
      "GET /execute/ws HTTP/1.1",
      `Host: ${hostname}:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
      "Sec-WebSocket-Version: 13",
      `Authorization: Bearer ${KEY}`,
      "",
      "",
    ].join("\r\n"),
  );
  let seen = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  socket.on("data", (chunk: Buffer) => {
    // Only the tail is kept: enough to find the words waited for.
    seen = (seen + chunk.toString("latin1")).slice(-65536);
    for (const waiter of waiters) if (seen.includes(waiter.text)) waiter.resolve();
  });
  const saw = (text: string) =>
    new Promise<void>((resolve) => {
      if (seen.includes(text)) resolve();
      else waiters.push({ text, resolve });
    });
  await saw("HTTP/1.1 101");
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write(clientFrame(JSON.stringify({ type: "execute", request, options })));
  for (let queued = 0; queued < total; queued += frame.length) socket.write(frame);
  return {
    saw,
    closed,
    destroy: () => socket.destroy(),
    pauseReading: () => socket.pause(),
    resumeReading: () => socket.resume(),
  };
}

/** The run whose input is left unread when its engine is killed: far longer than the test waits. */
const STUFFED_TIMEOUT_MS = 110_000;

/** The id of the container among `containers` running a process whose command line is `command`. */
async function containerRunning(containers: { Id: string }[], command: string): Promise<string> {
  for (const { Id } of containers) {
    const top = (await docker.getContainer(Id).top()) as { Processes?: string[][] };
    if (top.Processes?.some((p) => p.at(-1) === command)) return Id;
  }
  throw new Error(`no container runs ${command}`);
}

/** Makes /sandbox/data (8 MiB of random bytes) and 128 links to it, /sandbox/l000 to l127. */
const MAKE_LINKS =
  "head -c 8M /dev/urandom > /sandbox/data && for i in $(seq -w 0 127); do ln -s data /sandbox/l$i; done";

const links128 = () =>
  Array.from({ length: 128 }, (_, i) => `/sandbox/l${String(i).padStart(3, "0")}`);

interface OutputsResult {
  exitCode: number;
  files?: Record<string, string>;
  fileErrors?: Record<string, string>;
}

/** What the outputPaths assertions look at: each returned file's size, and the ones left out. */
interface OutputsShape {
  exitCode: number;
  sizes: Record<string, number>;
  fileErrors?: Record<string, string>;
}

const shapeOf = ({ exitCode, files = {}, fileErrors }: OutputsResult): OutputsShape => ({
  exitCode,
  sizes: Object.fromEntries(
    Object.entries(files).map(([path, content]) => [path, Buffer.byteLength(content, "base64")]),
  ),
  fileErrors,
});

/** The first links, up to maxOutputSize, returned whole; every other one named in fileErrors. */
function assertOutputs(result: OutputsShape, links: string[]): void {
  assert.equal(result.exitCode, 0);
  const fit = OUTPUT_BYTES / (8 * MIB);
  assert.deepEqual(
    result.sizes,
    Object.fromEntries(links.slice(0, fit).map((path) => [path, 8 * MIB])),
  );
  const errors = result.fileErrors ?? {};
  assert.deepEqual(Object.keys(errors), links.slice(fit));
  for (const message of Object.values(errors))
    assert.match(
      message,
      /larger than the limit of 0 bytes: the files of outputPaths share maxOutputSize/,
    );
}

/**
 * A library user's process: one DockerIsol8 engine that makes the links
 * and asks for all of them (and runs a tiny execution beside it), so its
 * resident memory can be measured from outside. Says "idle" after a warm-up
 * run, waits for a line on stdin, then prints the result's shape (OutputsShape).
 */
const LIBRARY_CHILD = `
import { DockerIsol8 } from ${JSON.stringify(new URL("../../dist/index.js", import.meta.url).href)};
import { createInterface } from "node:readline";
const isol8 = new DockerIsol8({ maxOutputSize: Number(process.env.OUTPUT_BYTES), timeoutMs: 60000, poolSize: { clean: 1, dirty: 1 } });
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
try {
  await isol8.execute({ runtime: "bash", cmd: "echo warm" });
  console.log("idle");
  await lines.next();
  const [big, tiny] = await Promise.all([
    isol8.execute({ runtime: "bash", cmd: process.env.MAKE_LINKS, outputPaths: JSON.parse(process.env.LINKS) }),
    isol8.execute({ runtime: "bash", cmd: "echo alive" }),
  ]);
  // Sizes only: printing the files would cost this process more than the engine did.
  const sizes = Object.fromEntries(Object.entries(big.files ?? {}).map(([p, c]) => [p, Buffer.byteLength(c, "base64")]));
  console.log(JSON.stringify({ exitCode: big.exitCode, sizes, fileErrors: big.fileErrors, alive: tiny.stdout }));
} finally {
  await isol8.stop();
}
`;

/** The child's stdout, line by line. */
function childLines(child: ChildProcessWithoutNullStreams) {
  let buffered = "";
  let stderr = "";
  const waiting: ((line: string) => void)[] = [];
  const ready: string[] = [];
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdout.on("data", (c: Buffer) => {
    buffered += c.toString();
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else ready.push(line);
    }
  });
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) =>
      reject(new Error(`the library's process exited (${code}): ${stderr}`)),
    ),
  );
  return {
    next: () =>
      Promise.race([
        ready.length
          ? Promise.resolve(ready.shift() as string)
          : new Promise<string>((r) => waiting.push(r)),
        exited,
      ]),
  };
}

describe("a gigabyte through each path leaves the engine's memory bounded", () => {
  let served: ServedCli;
  let pid: number;
  let idle: number;
  before(async () => {
    served = await serveCli(KEY, undefined, [], {
      policy: { limits: { maxOutputSize: OUTPUT_BYTES } },
    });
    pid = served.child.pid ?? 0;
    // Warm-up: a run, a stream and a refused file read, so idle includes what any request costs.
    await otherClientAnswers(served.url);
    const warm = await wsRun(served.url, { runtime: "bash", cmd: "cat" }, {});
    await pushHonouringBackPressure(warm.ws, STDIN_CHUNK);
    warm.ws.send(JSON.stringify({ type: "stdin", data: "", eof: true }));
    assert.equal(await warm.closed, 1000);
    idle = procBytes(pid, "VmRSS");
  });
  after(() => served?.stop());

  test("WebSocket stdin: 1 GB honouring back-pressure reaches a program that reads it all", async (t) => {
    const { result, growth, before, answers } = await measured(pid, idle, served.url, async () => {
      const run = await wsRun(
        served.url,
        { runtime: "bash", cmd: "wc -c" },
        { timeoutMs: 120_000 },
      );
      const sent = await pushHonouringBackPressure(run.ws, PUSH_BYTES);
      run.ws.send(JSON.stringify({ type: "stdin", data: "", eof: true }));
      return { sent, code: await run.closed, events: run.events };
    });
    assertBounded(t, "stdin to wc -c", { growth, before, answers });
    assert.equal(result.sent, PUSH_BYTES);
    assert.equal(result.code, 1000);
    const stdout = result.events.filter((e) => e.type === "stdout").map((e) => e.data);
    assert.deepEqual(stdout, [`${PUSH_BYTES}\n`]);
    assert.equal(result.events.at(-1)?.type, "exit");
  });

  test("WebSocket stdin: a client honouring back-pressure to a program that never reads is held back", async (t) => {
    const { result, growth, before, answers } = await measured(pid, idle, served.url, async () => {
      const run = await wsRun(
        served.url,
        { runtime: "bash", cmd: "sleep 8; echo awake; sleep 1" },
        { timeoutMs: 60_000 },
      );
      let sent = 0;
      const pushed = pushHonouringBackPressure(run.ws, PUSH_BYTES).then((n) => {
        sent = n;
        return n;
      });
      let sentWhileRunning = -1;
      const stalled = run.stdoutHolds("awake").then(() => {
        sentWhileRunning = sent;
      });
      await stalled;
      return { sentWhileRunning, sent: await pushed, code: await run.closed, events: run.events };
    });
    assertBounded(t, "stdin to sleep, honouring", { growth, before, answers });
    t.diagnostic(`the client got ${mb(result.sent)} of stdin through`);
    assert.ok(
      result.sent < 64 * MIB,
      `${mb(result.sent)} taken from a client whose program reads nothing`,
    );
    assert.equal(result.code, 1000);
    assert.equal(result.events.at(-1)?.type, "exit");
    assert.equal(result.events.at(-1)?.data, "0");
  });

  test("WebSocket stdin: a client ignoring back-pressure is not read while its program does not read", async (t) => {
    const { result, growth, before, answers } = await measured(pid, idle, served.url, async () => {
      const readBefore = bytesRead(pid);
      const flood = await floodingClient(
        served.url,
        { runtime: "bash", cmd: "sleep 8; echo awake; sleep 1" },
        { timeoutMs: 60_000 },
        PUSH_BYTES,
      );
      await flood.saw("awake");
      const readWhileRunning = bytesRead(pid) - readBefore;
      await flood.saw('"type":"exit"');
      // The client never answers the server's close: the server ends the connection itself.
      await flood.closed;
      return { readWhileRunning };
    });
    assertBounded(t, "stdin to sleep, flooding", { growth, before, answers });
    t.diagnostic(`the server read ${mb(result.readWhileRunning)} in all while the program ran`);
    assert.ok(result.readWhileRunning < 64 * MIB, `${mb(result.readWhileRunning)} read`);
  });

  test("WebSocket: replies to a client that floods bad messages and reads none are not queued", async (t) => {
    // Eight million messages of two bytes, each of which gets an error event in reply.
    const one = clientFrame("{}");
    const frames = Buffer.concat(Array.from({ length: Math.floor(MIB / one.length) }, () => one));
    const { growth, before, answers } = await measured(pid, idle, served.url, async () => {
      const flood = await floodingClient(
        served.url,
        { runtime: "bash", cmd: "sleep 8" },
        { timeoutMs: 60_000 },
        64 * MIB,
        frames,
      );
      flood.pauseReading();
      // Past the program's end, the client reads again, and leaves once the run is over.
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      flood.resumeReading();
      await flood.saw('"type":"exit"');
      flood.destroy();
      await flood.closed;
    });
    assertBounded(t, "bad messages, replies unread", { growth, before, answers });
  });

  test("a sandbox file of 1 GB, uploaded by PUT as a stream and read back by GET, streams through", async (t) => {
    const headers = { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" };
    const made = await fetch(`${served.url}/sandboxes`, {
      method: "POST",
      headers,
      body: JSON.stringify({ options: { sandboxSize: "2g", memoryLimit: "2g" } }),
    });
    const { sandboxId } = (await made.json()) as { sandboxId: string };
    assert.equal(made.status, 201);
    const file = `${served.url}/sandboxes/${sandboxId}/files?path=/sandbox/big`;
    const chunk = Buffer.alloc(MIB, "sandbox file ");
    const { result, growth, before, answers } = await measured(pid, idle, served.url, async () => {
      let sent = 0;
      const upload = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent === PUSH_BYTES) return controller.close();
          sent += chunk.length;
          controller.enqueue(chunk);
        },
      });
      const put = await fetch(file, {
        method: "PUT",
        headers: { ...headers, "Content-Type": "application/octet-stream" },
        body: upload,
        duplex: "half",
      } as RequestInit);
      const entry = (await put.json()) as { size: number };
      const got = await fetch(file, { headers });
      let read = 0;
      for await (const piece of got.body as ReadableStream<Uint8Array>) read += piece.length;
      return { put: put.status, size: entry.size, get: got.status, read };
    });
    assertBounded(t, "a sandbox file up and down", { growth, before, answers });
    assert.deepEqual(result, { put: 200, size: PUSH_BYTES, get: 200, read: PUSH_BYTES });
    await fetch(`${served.url}/sandboxes/${sandboxId}`, { method: "DELETE", headers });
  });

  test("GET /file of a 1.1 GB file, of the session or of a code context, is refused by its size, before any of it is read", async (t) => {
    const call = (path: string, init: RequestInit = {}) =>
      fetch(`${served.url}${path}`, {
        ...init,
        headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
      });
    // A real file, not a sparse one: the sandbox may hold it (2 GB of /sandbox and memory).
    const made = await call("/execute", {
      method: "POST",
      body: JSON.stringify({
        sessionId: "big-file",
        request: {
          runtime: "bash",
          cmd: "head -c 1100M /dev/zero > /sandbox/big && wc -c < /sandbox/big",
        },
        options: { sandboxSize: "2g", memoryLimit: "2g", timeoutMs: 60_000 },
      }),
    });
    const madeText = await made.text();
    assert.equal(made.status, 200, madeText);
    assert.equal(JSON.parse(madeText).stdout, `${1100 * MIB}\n`);
    // A code context's files are read through docker exec instead of the supervisor.
    const context = await call("/session/big-file/context", {
      method: "POST",
      body: JSON.stringify({ runtime: "python" }),
    });
    const { id: contextId } = (await context.json()) as { id: string };
    assert.equal(context.status, 201);
    const cell = await call("/execute", {
      method: "POST",
      body: JSON.stringify({
        sessionId: "big-file",
        request: {
          runtime: "python",
          contextId,
          code: "with open('/sandbox/big', 'wb') as f:\n    for _ in range(1100): f.write(bytes(1 << 20))\nimport os; os.path.getsize('/sandbox/big')",
        },
      }),
    });
    const cellText = await cell.text();
    assert.equal(cell.status, 200, cellText);
    assert.equal(JSON.parse(cellText).value, String(1100 * MIB));
    const { result, growth, before, answers } = await measured(pid, idle, served.url, async () => {
      const answers: { status: number; error: string }[] = [];
      // One after another: a session serves one caller at a time.
      for (const query of ["", `&contextId=${contextId}`, "", `&contextId=${contextId}`]) {
        const got = await call(`/file?sessionId=big-file&path=/sandbox/big${query}`);
        answers.push({
          status: got.status,
          error: ((await got.json()) as { error: string }).error,
        });
      }
      return answers;
    });
    assertBounded(t, "GET /file", { growth, before, answers });
    for (const answer of result) {
      assert.equal(answer.status, 413);
      assert.match(
        answer.error,
        new RegExp(`/sandbox/big: ${1100 * MIB} bytes is larger than the limit of \\d+ bytes`),
      );
    }
  });

  test("outputPaths: 128 links to one 8 MB file (1 GB listed) return maxOutputSize worth, the rest in fileErrors", async (t) => {
    const links = links128();
    const { result, growth, before, answers } = await measured(pid, idle, served.url, async () => {
      const answer = await fetch(`${served.url}/execute`, {
        method: "POST",
        headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
        body: JSON.stringify({
          request: { runtime: "bash", cmd: MAKE_LINKS, outputPaths: links },
          options: { maxOutputSize: OUTPUT_BYTES, timeoutMs: 60_000 },
        }),
      });
      const text = await answer.text();
      assert.equal(answer.status, 200, text.slice(0, 500));
      return JSON.parse(text) as OutputsResult;
    });
    assertBounded(t, "outputPaths over HTTP", { growth, before, answers });
    assertOutputs(shapeOf(result), links);
  });

  test("outputPaths in the library: the same bound in an engine's own process", async (t) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", LIBRARY_CHILD], {
      env: cleanEnv({
        LINKS: JSON.stringify(links128()),
        OUTPUT_BYTES: String(OUTPUT_BYTES),
        MAKE_LINKS,
      }),
      stdio: ["pipe", "pipe", "pipe"],
    }) as ChildProcessWithoutNullStreams;
    const lines = childLines(child);
    try {
      assert.equal(await lines.next(), "idle");
      const childPid = child.pid ?? 0;
      const childIdle = procBytes(childPid, "VmRSS");
      const { result, growth, before } = await measured(
        childPid,
        childIdle,
        undefined,
        async () => {
          child.stdin.write("go\n");
          return JSON.parse(await lines.next()) as OutputsShape & { alive: string };
        },
      );
      assertBounded(t, "outputPaths in the library", { growth, before, answers: 0 }, false);
      assertOutputs(result, links128());
      // The engine ran another execution meanwhile.
      assert.equal(result.alive, "alive\n");
    } finally {
      child.stdin.end();
      await new Promise((resolve) => child.once("exit", resolve));
    }
  });
});

describe("an engine killed outright ends every sandbox it held", () => {
  test("SIGKILL of isol8 serve holding a session, a context, pooled containers and two running programs: every container goes, also the one whose program leaves its input unread", async (t) => {
    const served = await serveCli(KEY);
    const pid = served.child.pid ?? 0;
    try {
      const call = async (path: string, body: object) => {
        const answer = await fetch(`${served.url}${path}`, {
          method: "POST",
          headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
        const text = await answer.text();
        assert.ok(answer.status < 300, `${path}: ${answer.status} ${text}`);
      };
      await call("/execute", { sessionId: "held", request: { runtime: "bash", cmd: "echo kept" } });
      await call("/session/held/context", { runtime: "python" });
      await otherClientAnswers(served.url); // a pooled container, wiped for reuse
      const quiet = await wsRun(
        served.url,
        { runtime: "bash", cmd: "echo started; sleep 101" },
        { timeoutMs: 110_000 },
      );
      const stuffed = await wsRun(
        served.url,
        { runtime: "bash", cmd: "echo started; sleep 100" },
        { timeoutMs: STUFFED_TIMEOUT_MS },
      );
      await Promise.all([quiet.stdoutHolds("started"), stuffed.stdoutHolds("started")]);
      // Input the program never reads: the supervisor holds it and stops reading its channel.
      void pushHonouringBackPressure(stuffed.ws, 16 * MIB);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const held = await containersOf(pid);
      t.diagnostic(
        `${held.length} containers held: ${held.map((c) => c.Labels["isol8.runtime"]).join(", ")}`,
      );
      assert.ok(held.length >= 5, `${held.length} containers`);
      const stuffedId = await containerRunning(held, "sleep 100");

      served.child.kill("SIGKILL");
      await new Promise((resolve) => served.child.once("exit", resolve));
      const killedAt = Date.now();
      // The supervisor holding unread input reads no more of its channel,
      // but still sees it hang up: well before any run's own timeout.
      const gone = await eventually(async () => (await containersOf(pid)).length === 0, 30_000);
      t.diagnostic(`${Date.now() - killedAt} ms until every sandbox was gone`);
      const left = await containersOf(pid);
      assert.ok(
        gone,
        `left: ${left.map((c) => `${c.Id.slice(0, 12)}${c.Id === stuffedId ? " (unread input)" : ""} ${c.Status}`)}`,
      );
    } finally {
      await served.stop();
    }
  });
});
