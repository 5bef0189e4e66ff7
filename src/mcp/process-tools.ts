/**
 * The MCP tools of long-lived sandboxes: start one, run a server in it in
 * the background and read its output later, run commands beside it (to
 * test it), list and kill its processes, close it.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { RUNTIMES } from "../runtimes/runtime.js";
import type { CommandResult } from "../sandbox/types.js";
import { LIVE_SANDBOX_IDLE_MS, type LiveSandboxes } from "./live-sandboxes.js";
import type { McpPolicy } from "./policy.js";
import { guarded, text } from "./tool-results.js";

/** Characters of output one read_output returns at most; the rest waits for the next read. */
const READ_CHARS = 64 * 1024;
/** The longest read_output waits for output. */
const MAX_WAIT_MS = 30_000;

const sandboxId = z.string().min(1).describe("A sandbox id from start_sandbox");
const pid = z.number().int().positive().describe("A process id from start_process");
const command = z
  .string()
  .min(1)
  .describe("A bash command line, e.g. `python3 -m http.server 8000`");
const cwd = z
  .string()
  .optional()
  .describe("Its working directory (absolute); /sandbox unless given");

function resultText(result: CommandResult): string {
  const parts = [
    `exit code: ${result.exitCode}${result.signal ? ` (${result.signal})` : ""}${result.timedOut ? " (timed out)" : ""}`,
  ];
  if (result.stdout) parts.push(`--- stdout ---\n${result.stdout.replace(/\n$/, "")}`);
  if (result.stderr) parts.push(`--- stderr ---\n${result.stderr.replace(/\n$/, "")}`);
  if (!result.stdout && !result.stderr) parts.push("(no output)");
  return parts.join("\n");
}

export function registerProcessTools(
  server: McpServer,
  live: LiveSandboxes,
  policy: McpPolicy,
): void {
  const idle = `${LIVE_SANDBOX_IDLE_MS / 60_000} minutes`;
  server.registerTool(
    "start_sandbox",
    {
      title: "Start a sandbox for long-running processes",
      description: `Start a sandbox (a small Linux machine: bash, the runtime, writable /sandbox and /tmp) where processes run side by side: start a server with start_process, test it with run_command, read its output with read_output. It ends with close_sandbox, when this connection ends, or after ${idle} unused. At most ${policy.maxSessions} at once.`,
      inputSchema: z.strictObject({
        runtime: z.enum(RUNTIMES).describe("The image: python, node, bun, deno or bash"),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    (args) =>
      guarded(async () => {
        const id = await live.open(args.runtime);
        return text(`sandbox ${id} started (${args.runtime}); pass it as sandboxId`);
      }),
  );

  server.registerTool(
    "start_process",
    {
      title: "Start a background process",
      description:
        "Start a command in a sandbox in the background (a dev server, a watcher, a long build) and return its pid at once. Its output waits for read_output; it runs until it exits, kill_process, or the sandbox ends.",
      inputSchema: z.strictObject({ sandboxId, command, cwd }),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    (args) =>
      guarded(async () => {
        const started = await live.start(args.sandboxId, args.command, args.cwd);
        return text(
          `process ${started} started: ${args.command}\nread its output with read_output`,
        );
      }),
  );

  server.registerTool(
    "read_output",
    {
      title: "Read a background process's output",
      description: `The output a process started with start_process printed since the last read_output (stdout and stderr in order, up to ${READ_CHARS} characters a call), and whether it still runs or how it exited. With waitMs, waits up to that long (at most ${MAX_WAIT_MS}) for output when there is none yet.`,
      inputSchema: z.strictObject({
        sandboxId,
        pid,
        waitMs: z.number().int().min(0).max(MAX_WAIT_MS).optional(),
      }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) =>
      guarded(async () => {
        const read = await live.read(args.sandboxId, args.pid, args.waitMs ?? 0, READ_CHARS);
        const parts = [];
        if (read.dropped)
          parts.push(`[${read.dropped} characters of older output were dropped unread]`);
        parts.push(read.output ? read.output.replace(/\n$/, "") : "(no new output)");
        parts.push(
          read.result
            ? `--- process ${args.pid} exited: code ${read.result.exitCode}${read.result.signal ? ` (${read.result.signal})` : ""} ---`
            : `--- process ${args.pid} is running ---`,
        );
        return text(parts.join("\n"));
      }),
  );

  server.registerTool(
    "run_command",
    {
      title: "Run a command in a sandbox",
      description: `Run a command in a sandbox beside its background processes (e.g. \`curl -s localhost:8000\` to test a server started with start_process) and wait for its exit code and output. Killed after timeoutMs (at most ${policy.maxTimeoutMs}, the default).`,
      inputSchema: z.strictObject({
        sandboxId,
        command,
        cwd,
        timeoutMs: z.number().int().positive().optional(),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    (args) =>
      guarded(async () => {
        const timeoutMs = Math.min(args.timeoutMs ?? policy.maxTimeoutMs, policy.maxTimeoutMs);
        return text(resultText(await live.run(args.sandboxId, args.command, args.cwd, timeoutMs)));
      }),
  );

  server.registerTool(
    "list_processes",
    {
      title: "List a sandbox's processes",
      description: "The processes running in a sandbox: pid, command and start time.",
      inputSchema: z.strictObject({ sandboxId }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) =>
      guarded(async () => {
        const processes = await live.list(args.sandboxId);
        if (!processes.length) return text("no processes running");
        return text(
          processes.map((p) => `${p.pid}\t${p.startedAt.toISOString()}\t${p.cmd}`).join("\n"),
        );
      }),
  );

  server.registerTool(
    "kill_process",
    {
      title: "Kill a background process",
      description: "Kill a process started with start_process, and every process of its group.",
      inputSchema: z.strictObject({ sandboxId, pid }),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
    },
    (args) =>
      guarded(async () => {
        const killed = await live.kill(args.sandboxId, args.pid);
        return text(
          killed ? `process ${args.pid} killed` : `process ${args.pid} had already exited`,
        );
      }),
  );

  server.registerTool(
    "close_sandbox",
    {
      title: "Close a sandbox",
      description:
        "End a sandbox from start_sandbox: every process is killed and its files removed.",
      inputSchema: z.strictObject({ sandboxId }),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
    },
    (args) =>
      guarded(async () => {
        await live.close(args.sandboxId);
        return text(`sandbox ${args.sandboxId} closed`);
      }),
  );
}
