/**
 * E2B's envd process service (process.Process over Connect) on an isol8
 * sandbox: every process is one of the sandbox's own (src/sandbox/), run
 * as the sandbox user under its limits. A Start or Connect stream carries
 * the process's output as it comes and its end; leaving the stream leaves
 * the process running, and the Start request's deadline (the SDK's
 * `timeoutMs`) is the process's own timeout, as on E2B.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { InvalidOptionError } from "../../engine/errors.js";
import { describeProcess } from "../../sandbox/commands.js";
import { ProcessStartError } from "../../sandbox/errors.js";
import type { SandboxProcess } from "../../sandbox/process.js";
import type { ProcessExit } from "../../sandbox/process-protocol.js";
import type { Sandbox } from "../../sandbox/sandbox.js";
import { ReaderBacklog } from "../../server/reader-backlog.js";
import {
  type Process,
  type ProcessEventSchema,
  type ProcessSelector,
  Signal,
  type StartRequest,
} from "./gen/envd/process_pb.js";
import { Counter, KEEPALIVE, withKeepalives } from "./limits.js";
import { e2bPath, sandboxPath } from "./paths.js";
import { sandboxOf } from "./sandbox-context.js";

type ProcessEventInit = MessageInitShape<typeof ProcessEventSchema>;

/** Output a stream's reader may fall behind by before its stream is ended (as the server's own). */
const READER_BACKLOG_BYTES = 2 * 1024 * 1024;
/** Input writes waiting for one process to read, beyond which another is refused (as on isol8's own API). */
const WAITING_WRITES = 4;

/** Go's names for the signals E2B reports an end by ("signal: killed"). */
const SIGNAL_WORDS: Record<number, string> = {
  1: "hangup",
  2: "interrupt",
  9: "killed",
  13: "broken pipe",
  15: "terminated",
};

/** E2B's end event: Go's exit code (-1 when a signal ended it) and status text. */
function endEvent(exit: ProcessExit): ProcessEventInit {
  const status = exit.signal
    ? `signal: ${SIGNAL_WORDS[exit.signal] ?? `signal ${exit.signal}`}`
    : `exit status ${exit.exitCode}`;
  return {
    event: {
      case: "end",
      value: {
        exitCode: exit.signal ? -1 : exit.exitCode,
        exited: !exit.signal,
        status,
        ...(exit.timedOut ? { error: "the process ran past its timeout" } : {}),
      },
    },
  };
}

/** The keepalive interval the client asked for (E2B's `Keepalive-Ping-Interval`, seconds). */
function keepaliveMs(context: HandlerContext): number {
  const seconds = Number(context.requestHeader.get("keepalive-ping-interval"));
  // At least a second: a keepalive is for proxies, not a way to make the server spin.
  return Number.isFinite(seconds) && seconds > 0
    ? Math.min(Math.max(seconds, 1), 3600) * 1000
    : 50_000;
}

/**
 * A process's events from now (with `replay`, from what it printed so far)
 * to its end, keepalives between; bounded by READER_BACKLOG_BYTES for a
 * reader slower than the process.
 */
async function* processEvents(
  process: SandboxProcess,
  replay: boolean,
  context: HandlerContext,
): AsyncGenerator<{ event: ProcessEventInit }> {
  const pty = process.description.pty;
  const backlog = new ReaderBacklog<ProcessEventInit>(READER_BACKLOG_BYTES);
  const stop = process.subscribe((chunk) => {
    const output = pty
      ? ({ case: "pty", value: chunk.data } as const)
      : ({ case: chunk.stream, value: chunk.data } as const);
    backlog.push({ event: { case: "data", value: { output } } }, chunk.data.length);
  }, replay);
  void process.wait().then(() => backlog.finish());
  try {
    for await (const item of withKeepalives(backlog, keepaliveMs(context), context.signal))
      yield {
        event: item === KEEPALIVE ? { event: { case: "keepalive", value: {} } } : item,
      };
    if (context.signal.aborted) return;
    if (backlog.behind)
      throw new ConnectError(
        `this reader fell more than ${READER_BACKLOG_BYTES} bytes behind the process's output; connect again to follow it from now`,
        Code.ResourceExhausted,
      );
    yield { event: endEvent(await process.wait()) };
  } finally {
    stop();
  }
}

/** The sandbox's processes by E2B's selector (a pid, or the tag it was started with). */
class ProcessFinder {
  private readonly tags = new WeakMap<Sandbox, Map<string, number>>();

  /** Names a running process by its tag until it ends. */
  tag(sandbox: Sandbox, tag: string | undefined, process: SandboxProcess): void {
    if (tag === undefined) return;
    const tags = this.tags.get(sandbox) ?? new Map<string, number>();
    this.tags.set(sandbox, tags);
    tags.set(tag, process.pid);
    void process.wait().then(() => {
      if (tags.get(tag) === process.pid) tags.delete(tag);
    });
  }

  tagOf(sandbox: Sandbox, pid: number): string | undefined {
    for (const [tag, tagged] of this.tags.get(sandbox) ?? []) if (tagged === pid) return tag;
    return undefined;
  }

  /** A running process, or with `ended`, also one of the last that ended. */
  find(sandbox: Sandbox, selector: ProcessSelector | undefined, ended = false): SandboxProcess {
    const choice = selector?.selector;
    const pid =
      choice?.case === "pid"
        ? choice.value
        : choice?.case === "tag"
          ? this.tags.get(sandbox)?.get(choice.value)
          : undefined;
    if (choice?.case === undefined)
      throw new ConnectError("process: a pid or a tag is required", Code.InvalidArgument);
    const process =
      pid === undefined ? undefined : ended ? sandbox.table.lookup(pid) : sandbox.table.get(pid);
    if (!process)
      throw new ConnectError(
        `process with ${choice.case} ${JSON.stringify(choice.value)} not found`,
        Code.NotFound,
      );
    return process;
  }
}

function signalNumberOf(signal: Signal): number {
  if (signal === Signal.SIGKILL || signal === Signal.SIGTERM) return signal;
  throw new ConnectError("signal: must be SIGNAL_SIGKILL or SIGNAL_SIGTERM", Code.InvalidArgument);
}

/** The longest tag a process may be started with. */
const MAX_TAG_LENGTH = 256;

/** The longest a process's own timeout may be (isol8's limit for one). */
const DAY_MS = 24 * 60 * 60 * 1000;

/** Why a start was refused, as a Connect error: bad options, or the sandbox's limits. */
function startRefusal(error: unknown): never {
  if (error instanceof InvalidOptionError)
    throw new ConnectError(error.message, Code.InvalidArgument);
  if (error instanceof ProcessStartError)
    throw new ConnectError(error.message, Code.ResourceExhausted);
  throw error;
}

/** Starts the process a Start request describes, then follows it: its start event, output and end. */
async function* startAndFollow(
  sandbox: Sandbox,
  request: StartRequest,
  context: HandlerContext,
  finder: ProcessFinder,
): AsyncGenerator<{ event: ProcessEventInit }> {
  const config = request.process;
  if (!config?.cmd)
    throw new ConnectError("process.cmd: a program to run is required", Code.InvalidArgument);
  if (request.tag !== undefined && request.tag.length > MAX_TAG_LENGTH)
    throw new ConnectError(`tag: longer than ${MAX_TAG_LENGTH} characters`, Code.InvalidArgument);
  const argv = [config.cmd, ...config.args];
  const options = {
    envs: config.envs,
    // E2B's /home/user is the sandbox's /sandbox, the default.
    ...(config.cwd ? { cwd: sandboxPath(config.cwd) } : {}),
    // The request's deadline is the process's timeout; none: it runs until the sandbox ends.
    timeoutMs: Math.min(Math.ceil(context.timeoutMs() ?? 0), DAY_MS),
  };
  const size = request.pty?.size;
  const started = request.pty
    ? sandbox.pty.create({
        ...options,
        cmd: argv,
        cols: size?.cols ?? 80,
        rows: size?.rows ?? 24,
      })
    : sandbox.commands.run(argv, {
        ...options,
        background: true,
        stdin: request.stdin ?? false,
      });
  const handle = await started.catch(startRefusal);
  handle.disconnect();
  const process = sandbox.table.lookup(handle.pid);
  if (!process) throw new ConnectError("the started process is gone", Code.Internal);
  finder.tag(sandbox, request.tag, process);
  yield { event: { event: { case: "start", value: { pid: handle.pid } } } };
  yield* processEvents(process, true, context);
}

/** The process service; `streams` bounds the output streams of each sandbox, watches included. */
export function processService(streams: Counter<Sandbox>): ServiceImpl<typeof Process> {
  const finder = new ProcessFinder();
  const writes = new Counter<SandboxProcess>(
    WAITING_WRITES,
    (held) => `${held} writes to this process's input wait for it to read; wait for one to finish`,
  );
  return {
    async list(_request, context) {
      const sandbox = sandboxOf(context);
      return {
        processes: sandbox.table.list().map((process) => {
          const info = describeProcess(process);
          const [cmd = "", ...args] = info.args;
          const tag = finder.tagOf(sandbox, process.pid);
          return {
            pid: process.pid,
            config: { cmd, args, envs: info.envs, cwd: e2bPath(info.cwd) },
            ...(tag === undefined ? {} : { tag }),
          };
        }),
      };
    },

    async *start(request, context) {
      const sandbox = sandboxOf(context);
      // The stream's place is taken first: a start refused for want of one starts nothing.
      yield* streams.during(sandbox, () => startAndFollow(sandbox, request, context, finder));
    },

    async *connect(request, context) {
      const sandbox = sandboxOf(context);
      const process = finder.find(sandbox, request.process);
      yield* streams.during(sandbox, async function* () {
        yield { event: { event: { case: "start", value: { pid: process.pid } } } };
        yield* processEvents(process, false, context);
      });
    },

    async update(request, context) {
      const sandbox = sandboxOf(context);
      const process = finder.find(sandbox, request.process);
      const size = request.pty?.size;
      if (size) await sandbox.pty.resize(process.pid, { cols: size.cols, rows: size.rows });
      return {};
    },

    async sendInput(request, context) {
      const process = finder.find(sandboxOf(context), request.process);
      const input = request.input?.input;
      if (input?.case) await writes.while(process, () => process.write(Buffer.from(input.value)));
      return {};
    },

    async streamInput(requests, context) {
      const sandbox = sandboxOf(context);
      let process: SandboxProcess | undefined;
      for await (const request of requests) {
        const event = request.event;
        if (event.case === "start") process = finder.find(sandbox, event.value.process);
        else if (event.case === "data") {
          if (!process)
            throw new ConnectError(
              "a start event must name the process first",
              Code.InvalidArgument,
            );
          const input = event.value.input?.input;
          const target = process;
          if (input?.case) await writes.while(target, () => target.write(Buffer.from(input.value)));
        }
      }
      return {};
    },

    async sendSignal(request, context) {
      const process = finder.find(sandboxOf(context), request.process);
      process.signal(signalNumberOf(request.signal));
      return {};
    },

    async closeStdin(request, context) {
      const process = finder.find(sandboxOf(context), request.process);
      if (process.description.pty)
        throw new ConnectError(
          "a terminal has no end of input: send Ctrl-D (0x04) instead",
          Code.FailedPrecondition,
        );
      await process.endStdin();
      return {};
    },
  };
}
