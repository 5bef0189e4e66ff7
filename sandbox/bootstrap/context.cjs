// isol8 context kernel for node (see src/engine/context.ts and context.py,
// whose protocol this speaks: cells as JSON lines on the run's stdin, records
// as JSON lines on its stdout, each line one write of at most 4096 bytes).
//
// The engine starts `bash -c 'exec node --expose-internals
// /usr/local/lib/isol8/context.cjs 3<&0 4>&1 5>&2'` as one long supervisor
// run in a context's own sandbox container (Node has no dup(), so bash puts
// copies of the run's stdin, stdout and stderr on fds 3, 4 and 5: the
// protocol's channel, and where the kernel's own failures go). Cells run
// with vm.Script.runInThisContext in this realm, one after another, so
// globals, `var`, top-level `let`/`const`/`class` and functions persist from
// one cell to the next; `require` resolves from /sandbox; a cell using
// `await` at top level is rewritten by Node's own REPL transform (the reason
// for --expose-internals), its declarations hoisted so they persist too.
// The value of a cell's completion (its last expression statement) comes
// back as util.inspect() text, as the REPL prints it.
//
// Descriptors: fd 0 becomes /dev/null and fds 1 and 2 become FIFOs (made in a
// private folder under /tmp and unlinked at once); programs a cell starts do
// not inherit fds 3-5 (libuv closes them in its children). A worker
// thread is the only writer of the protocol: it forwards what the FIFOs
// carry (raw writes to fd 1/2, subprocesses) and the messages of the main
// thread, where process.stdout and process.stderr (and so console) post
// their writes, draining the FIFOs before each message to keep the order.
//
// A cell past its timeout gets SIGINT: synchronous code is stopped by
// breakOnSigint, an awaited promise is abandoned; SIGINT between cells is
// ignored. Uncaught errors of callbacks are printed, never fatal.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const util = require("node:util");
const vm = require("node:vm");
const { execFileSync } = require("node:child_process");
const { MessageChannel, Worker } = require("node:worker_threads");

const MAX_IN_FLIGHT = 8 * 1024 * 1024; // bytes posted to the worker but not yet written
let processTopLevelAwait;
try {
  ({ processTopLevelAwait } = require("internal/repl/await"));
} catch {
  processTopLevelAwait = undefined; // without --expose-internals: no top-level await
}

// --- descriptors -------------------------------------------------------------
const protoIn = 3;
const protoOut = 4;
const diag = 5;
const folder = fs.mkdtempSync("/tmp/.isol8-context-");
execFileSync("mkfifo", ["-m", "600", `${folder}/out`, `${folder}/err`]);
const nonblocking = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;
const outRead = fs.openSync(`${folder}/out`, nonblocking);
const errRead = fs.openSync(`${folder}/err`, nonblocking);
/** Replaces descriptor `fd` with `open()`: the lowest free number is the one just closed. */
function replace(fd, open) {
  fs.closeSync(fd);
  const got = open();
  if (got !== fd) throw new Error(`could not replace fd ${fd} (got ${got})`);
}
replace(0, () => fs.openSync("/dev/null", "r"));
replace(1, () => fs.openSync(`${folder}/out`, "w"));
replace(2, () => fs.openSync(`${folder}/err`, "w"));
fs.rmSync(folder, { recursive: true, force: true });

// --- the writer thread ---------------------------------------------------------
// shared[0]: bumped (and notified) whenever a message is posted; shared[1]:
// bytes in flight; shared[2]: 1 while a cell runs (the FIFOs are polled
// faster); shared[3]: the cell the worker has taken up. A cell starts only
// once the worker has drained what came before it, so what the FIFOs carry
// during a cell is that cell's.
const shared = new Int32Array(new SharedArrayBuffer(16));
const { port1, port2 } = new MessageChannel();
const worker = new Worker(
  `
  "use strict";
  const fs = require("node:fs");
  const { workerData, receiveMessageOnPort } = require("node:worker_threads");
  const { protoOut, outRead, errRead, shared, port } = workerData;
  const CHUNK = 3000;
  const buffer = Buffer.allocUnsafe(65536);
  let cell = 0;
  const line = (text) => fs.writeSync(protoOut, text);
  function record(type, data, number = cell) {
    for (let start = 0; start === 0 || start < data.length; start += CHUNK) {
      const part = data.subarray(start, start + CHUNK).toString("base64");
      line('{"cell":' + number + ',"type":"' + type + '","data":"' + part + '"}\\n');
    }
  }
  function drain(fd, type) {
    let any = false;
    for (;;) {
      let n;
      try {
        n = fs.readSync(fd, buffer, 0, buffer.length, null);
      } catch (error) {
        if (error.code === "EINTR") continue;
        return any;
      }
      if (n <= 0) return any;
      any = true;
      record(type, buffer.subarray(0, n));
    }
  }
  const drainAll = () => drain(outRead, "stdout") | drain(errRead, "stderr");
  function handle(message) {
    drainAll();
    if (message.k === "out") {
      record(message.type, Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength));
      Atomics.sub(shared, 1, message.data.byteLength);
      Atomics.notify(shared, 1);
    } else if (message.k === "cell") {
      cell = message.cell;
      Atomics.store(shared, 3, cell);
      Atomics.notify(shared, 3);
    } else if (message.k === "line") {
      line(message.text);
    }
  }
  for (;;) {
    const seen = Atomics.load(shared, 0);
    let active = drainAll();
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
      active = true;
      handle(m.message);
    }
    if (!active) Atomics.wait(shared, 0, seen, Atomics.load(shared, 2) ? 4 : 50);
  }
  `,
  {
    eval: true,
    workerData: { protoOut, outRead, errRead, shared, port: port2 },
    transferList: [port2],
    stdout: false,
    stderr: false,
  },
);
worker.unref();

function post(message) {
  port1.postMessage(message);
  Atomics.add(shared, 0, 1);
  Atomics.notify(shared, 0);
}

function output(type, data) {
  if (data.byteLength === 0) return;
  // A program that prints faster than the engine reads waits here, as it
  // would on a full pipe.
  for (let inFlight = Atomics.load(shared, 1); inFlight > MAX_IN_FLIGHT; ) {
    Atomics.wait(shared, 1, inFlight, 100);
    inFlight = Atomics.load(shared, 1);
  }
  Atomics.add(shared, 1, data.byteLength);
  post({ k: "out", type, data });
}

// --- process.stdout and process.stderr ------------------------------------------
const { Writable } = require("node:stream");
class RecordStream extends Writable {
  constructor(type, fd) {
    super({
      decodeStrings: true,
      write(chunk, _encoding, callback) {
        output(type, chunk);
        callback();
      },
      writev(chunks, callback) {
        for (const { chunk } of chunks) output(type, chunk);
        callback();
      },
    });
    this.fd = fd;
    this.isTTY = false;
    this._type = "pipe";
    this._isStdio = true;
  }
  // Like Node's own stdout and stderr, these are never closed.
  end(chunk, encoding, callback) {
    if (typeof chunk === "function") callback = chunk;
    else if (typeof encoding === "function") callback = encoding;
    if (chunk !== undefined && chunk !== null && typeof chunk !== "function")
      this.write(chunk, typeof encoding === "string" ? encoding : undefined);
    if (callback) process.nextTick(callback);
    return this;
  }
  destroy() {
    return this;
  }
}
const stdout = new RecordStream("stdout", 1);
const stderr = new RecordStream("stderr", 2);
for (const [name, stream] of [
  ["stdout", stdout],
  ["stderr", stderr],
]) {
  Object.defineProperty(process, name, {
    configurable: true,
    enumerable: false,
    get: () => stream,
  });
}

// --- how errors are shown ----------------------------------------------------------
/** A stack frame of this kernel's or of node:vm: the cell's own frames are above the first. */
const kernelFrame = (text) =>
  /^\s+at /.test(text) &&
  (text.includes("node:vm:") || text.includes(`${__filename}:`));
/** An error's stack without this kernel's frames (and what lies below them). */
function describe(error) {
  if (!(error instanceof Error) || typeof error.stack !== "string") {
    return util.inspect(error);
  }
  const lines = error.stack.split("\n");
  const cut = lines.findIndex(kernelFrame);
  return (cut < 0 ? lines : lines.slice(0, cut)).join("\n");
}

function printError(error, prefix = "") {
  try {
    stderr.write(`${prefix}${describe(error)}\n`);
  } catch {
    stderr.write(`${prefix}(an error that cannot be shown)\n`);
  }
}

process.on("uncaughtException", (error) => printError(error, "Uncaught "));
process.on("unhandledRejection", (reason) => printError(reason, "Uncaught (in promise) "));

// --- the REPL's globals ---------------------------------------------------------------
const Module = require("node:module");
const replModule = new Module("<repl>");
replModule.filename = path.join(process.cwd(), "<repl>");
replModule.paths = Module._nodeModulePaths(process.cwd());
globalThis.module = replModule;
globalThis.require = Module.createRequire(path.join(process.cwd(), "<repl>"));
process.argv.splice(1);

const importModuleDynamically = vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER;

// --- running a cell ------------------------------------------------------------------
/** Set while a cell waits for its promise: SIGINT abandons the wait. */
let interruptWait;
process.on("SIGINT", () => interruptWait?.());

const INTERRUPTED = Symbol("interrupted");

function compile(source, filename) {
  const options = { filename, importModuleDynamically };
  // `{ a: 1 }` is an object, as in the REPL, when it parses as one.
  if (/^\s*\{/.test(source) && !/;\s*$/.test(source)) {
    try {
      return new vm.Script(`(${source}\n)`, options);
    } catch {
      // a block after all
    }
  }
  return new vm.Script(source, options);
}

async function runCell(cell, source) {
  const filename = `<cell ${cell}>`;
  let code = source;
  let awaited = false;
  if (processTopLevelAwait && source.includes("await")) {
    try {
      const rewritten = processTopLevelAwait(source);
      if (rewritten !== null) {
        code = rewritten;
        awaited = true;
      }
    } catch {
      // not valid JavaScript: compiling the source shows why
    }
  }
  let result;
  try {
    result = compile(code, filename).runInThisContext({ breakOnSigint: true });
    if (awaited) {
      result = await new Promise((resolve, reject) => {
        interruptWait = () => reject(INTERRUPTED);
        Promise.resolve(result).then(resolve, reject);
      });
      result = result?.value;
    }
  } catch (error) {
    if (error === INTERRUPTED || error?.code === "ERR_SCRIPT_EXECUTION_INTERRUPTED") {
      stderr.write("Script execution was interrupted by `SIGINT`\n");
      return { status: "interrupted", exitCode: 130 };
    }
    printError(error, error instanceof Error ? "" : "Uncaught ");
    return { status: "error", exitCode: 1 };
  } finally {
    interruptWait = undefined;
  }
  let value;
  if (result !== undefined) {
    try {
      value = util.inspect(result);
    } catch (error) {
      printError(error, "Uncaught ");
      return { status: "error", exitCode: 1 };
    }
  }
  return { status: "ok", exitCode: 0, value };
}

function valueRecords(cell, text) {
  const data = Buffer.from(text);
  for (let start = 0; start === 0 || start < data.length; start += 3000) {
    const part = data.subarray(start, start + 3000).toString("base64");
    post({ k: "line", text: `{"cell":${cell},"type":"value","data":"${part}"}\n` });
  }
}

const queue = [];
let busy = false;
async function next() {
  if (busy) return;
  busy = true;
  while (queue.length) {
    const line = queue.shift();
    let request;
    try {
      request = JSON.parse(line);
    } catch (error) {
      fs.writeSync(diag, `isol8 context kernel: bad request: ${error.message}\n`);
      process.exit(70);
    }
    const cell = Number(request.cell);
    post({ k: "cell", cell });
    for (let taken = Atomics.load(shared, 3); taken !== cell; taken = Atomics.load(shared, 3))
      Atomics.wait(shared, 3, taken, 1000);
    Atomics.store(shared, 2, 1);
    const cpu = process.cpuUsage();
    const outcome = await runCell(cell, String(request.code));
    const used = process.cpuUsage(cpu);
    Atomics.store(shared, 2, 0);
    if (outcome.value !== undefined) valueRecords(cell, outcome.value);
    const rssKb = Math.round(process.memoryUsage.rss() / 1024);
    const cpuMs = Math.round((used.user + used.system) / 1000);
    post({
      k: "line",
      text: `{"cell":${cell},"type":"done","status":"${outcome.status}","exitCode":${outcome.exitCode},"cpuMs":${cpuMs},"rssKb":${rssKb}}\n`,
    });
  }
  busy = false;
}

// The first use of the default loader warns once that it is experimental: not
// a warning of the program's, so it is used and its warning swallowed here,
// before any cell.
async function quietStart() {
  const listeners = process.listeners("warning");
  process.removeAllListeners("warning");
  try {
    await new vm.Script('import("node:path")', { importModuleDynamically }).runInThisContext();
  } catch {
    // no dynamic import() in cells, then
  }
  await new Promise((resolve) => setImmediate(resolve));
  for (const listener of listeners) process.on("warning", listener);
}

quietStart().then(() => {
  const net = require("node:net");
  const input = new net.Socket({ fd: protoIn, readable: true, writable: false });
  let pending = "";
  input.setEncoding("utf8");
  input.on("data", (chunk) => {
    pending += chunk;
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      queue.push(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf("\n");
    }
    void next();
  });
  input.on("end", () => process.exit(0)); // the engine closed the context
  input.on("error", () => process.exit(0));
  post({ k: "line", text: '{"type":"ready"}\n' });
});
