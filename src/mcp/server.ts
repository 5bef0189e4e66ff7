import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type {
  CallToolResult,
  ServerNotification,
  ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { orList } from "../one-of.js";
import { runtimeAdapter } from "../runtimes/index.js";
import { CONTEXT_RUNTIMES, RUNTIMES } from "../runtimes/runtime.js";
import { SANDBOX_DIR, sandboxPlace } from "../sandbox-layout.js";
import type { ExecutionRequest } from "../types.js";
import { describeInstalls, describeLimits, type McpPolicy } from "./policy.js";
import { registerProcessTools } from "./process-tools.js";
import { type RunOutput, type Sandboxes, ToolError } from "./sandboxes.js";
import { guarded, text } from "./tool-results.js";

/** Files read_file returns as MCP image content. */
const IMAGE_TYPES: [string, (b: Buffer) => boolean][] = [
  ["image/png", (b) => b.subarray(0, 8).equals(Buffer.from("89504e470d0a1a0a", "hex"))],
  ["image/jpeg", (b) => b.subarray(0, 3).equals(Buffer.from("ffd8ff", "hex"))],
  ["image/gif", (b) => /^GIF8[79]a/.test(b.subarray(0, 6).toString("latin1"))],
  [
    "image/webp",
    (b) =>
      b.subarray(0, 4).toString("latin1") === "RIFF" && b.subarray(8, 12).toString() === "WEBP",
  ],
];

/** How often a long call tells a client that asked for progress that it is still running. */
const PROGRESS_EVERY_MS = 5_000;

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Entries list_files shows; more are counted, not listed. */
const MAX_LISTED = 500;

const runtime = z
  .enum(RUNTIMES)
  .describe(
    "python (python3, code runs as main.py), node (ES module, main.mjs), bun (TypeScript, main.ts), deno (TypeScript, main.mts) or bash (a bash script)",
  );
const sessionId = z.string().min(1).describe("A session id from open_session");
const timeoutMs = (max: number) =>
  z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      `Milliseconds before every process of the run is killed; at most ${max} (the default)`,
    );
const filePath = z
  .string()
  .min(1)
  .describe("A path in the session's /sandbox directory, absolute or relative to /sandbox");
const contextFiles = z
  .string()
  .min(1)
  .optional()
  .describe("A context id from create_context: the file is in that context's own /sandbox");

/**
 * The MCP server for one client: the tools, over `sandboxes`, with limits
 * from `policy`. Every failure is a tool error (isError) of one line.
 */
export function createMcpServer(
  sandboxes: Sandboxes,
  policy: McpPolicy,
  version: string,
): McpServer {
  const limits = describeLimits(policy);
  const server = new McpServer(
    { name: "isol8", version },
    {
      instructions: `isol8 runs code in locked-down, disposable Linux sandboxes (Docker containers, as an unprivileged user, ${policy.readonlyRootFs ? "read-only root filesystem, " : ""}writable /sandbox and /tmp). Use run_code for a one-off program; open_session when files must persist between runs, and create_context in a session for a live python or node interpreter whose variables persist (close_session when done); start_sandbox to run a server or other long-lived process in the background (start_process, read_output) and test it beside it (run_command). ${limits}`,
    },
  );
  const open = policy.network !== "none";

  server.registerTool(
    "run_code",
    {
      title: "Run code in a sandbox",
      description: `Run a program in a fresh, isolated sandbox and get its stdout, stderr and exit code. Nothing is kept afterwards: for files that persist between runs, use open_session and run_in_session. ${limits} ${describeInstalls(policy)}`,
      inputSchema: z.strictObject({
        runtime,
        code: z.string().describe("The program's source code"),
        stdin: z.string().optional().describe("Text given to the program's standard input"),
        timeoutMs: timeoutMs(policy.maxTimeoutMs),
        packages: z
          .array(z.string().min(1))
          .max(50)
          .optional()
          .describe(
            policy.installs
              ? 'Packages to install before the run, e.g. ["requests"] (pip) or ["lodash"] (npm)'
              : "Not available on this server (no network): leave it out",
          ),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: open },
    },
    (args, extra) =>
      guarded(async () => {
        const notices: string[] = [];
        const request: ExecutionRequest = {
          runtime: args.runtime,
          code: args.code,
          timeoutMs: clampTimeout(args.timeoutMs, policy, notices),
          ...(args.stdin !== undefined ? { stdin: args.stdin } : {}),
        };
        if (args.packages?.length) {
          if (!policy.installs)
            throw new ToolError(
              'packages: installing packages is disabled on this server (its sandboxes have no network: config defaults.network is "none"); use the standard library instead',
            );
          if (!runtimeAdapter(args.runtime).installer)
            throw new ToolError(
              `packages: not available for ${args.runtime}; use ${orList(RUNTIMES.filter((r) => runtimeAdapter(r).installer))}`,
            );
          request.installPackages = args.packages;
        }
        return runResult(
          await withProgress(extra, () => sandboxes.run(request, extra.signal)),
          notices,
        );
      }),
  );

  server.registerTool(
    "open_session",
    {
      title: "Open a persistent sandbox",
      description: `Start a persistent sandbox for one runtime and get its session id. Its /sandbox directory keeps files between run_in_session, write_file, read_file and list_files calls until close_session or until this MCP connection ends. At most ${policy.maxSessions} sessions may be open at once. ${limits}`,
      inputSchema: z.strictObject({ runtime }),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    (args, extra) =>
      guarded(async () => {
        const session = await withProgress(extra, () => sandboxes.openSession(args.runtime));
        return text(
          `session ${session.id} opened (${session.runtime}); files under /sandbox persist until close_session`,
        );
      }),
  );

  server.registerTool(
    "close_session",
    {
      title: "Close a sandbox session",
      description:
        "Close a session opened with open_session: its sandbox, every file in it and its code contexts are removed.",
      inputSchema: z.strictObject({ sessionId }),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
    },
    (args) =>
      guarded(async () => {
        await sandboxes.closeSession(args.sessionId);
        return text(`session ${args.sessionId} closed; its sandbox was removed`);
      }),
  );

  server.registerTool(
    "create_context",
    {
      title: "Create a code context",
      description: `Start a code context in a session: a live ${orList(CONTEXT_RUNTIMES)} interpreter, like a notebook kernel, whose variables, imports and functions persist between run_in_session calls that pass its contextId; each call returns the cell's output and the value of its last expression. A context runs in a sandbox of its own: its files are not the session's /sandbox (write_file and read_file reach a context's files when given its contextId; list_files lists the session's). It is closed with close_context, with its session, or when this MCP connection ends. ${limits}`,
      inputSchema: z.strictObject({
        sessionId,
        runtime: z.enum(CONTEXT_RUNTIMES).describe(`The interpreter: ${orList(CONTEXT_RUNTIMES)}`),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    (args, extra) =>
      guarded(async () => {
        const context = await withProgress(extra, () =>
          sandboxes.createContext(args.sessionId, args.runtime),
        );
        return text(
          `context ${context.id} created (${context.runtime}) in session ${args.sessionId}; pass it as contextId to run_in_session`,
        );
      }),
  );

  server.registerTool(
    "close_context",
    {
      title: "Close a code context",
      description:
        "Close a code context made with create_context: its interpreter, its state and its sandbox are removed.",
      inputSchema: z.strictObject({
        sessionId,
        contextId: z.string().min(1).describe("A context id from create_context"),
      }),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
    },
    (args) =>
      guarded(async () => {
        await sandboxes.closeContext(args.sessionId, args.contextId);
        return text(`context ${args.contextId} closed`);
      }),
  );

  server.registerTool(
    "run_in_session",
    {
      title: "Run code in a session",
      description: `Run a program in an open session's sandbox, in /sandbox, where earlier runs' and write_file's files are. Each run is a new process (variables do not carry over; files do) - unless contextId names a context from create_context: then code runs as the next cell of that live interpreter (variables, imports and functions persist; the last expression's value is returned; in python, matplotlib figures come back as PNG images and values with an HTML or SVG form, such as pandas DataFrames, as that text too) in the context's own sandbox. runtime defaults to the session's (or the context's); "bash" runs the code as a bash script in the session's sandbox whatever its runtime (for ls, cat, pip list, ...). ${limits}`,
      inputSchema: z.strictObject({
        sessionId,
        code: z
          .string()
          .describe("The program's source code (or bash script, or a context's cell)"),
        runtime: runtime
          .optional()
          .describe("The session's runtime (default), or bash; with contextId, the context's"),
        stdin: z
          .string()
          .optional()
          .describe("Text given to the program's standard input (not with contextId)"),
        timeoutMs: timeoutMs(policy.maxTimeoutMs),
        contextId: z
          .string()
          .min(1)
          .optional()
          .describe("Run the code as a cell of this context (from create_context)"),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: open },
    },
    (args, extra) =>
      guarded(async () => {
        const session = sandboxes.session(args.sessionId);
        const notices: string[] = [];
        if (args.contextId !== undefined) {
          const context = sandboxes.context(session.id, args.contextId);
          if (args.runtime !== undefined && args.runtime !== context.runtime)
            throw new ToolError(
              `runtime: context ${context.id} runs ${context.runtime}, not ${args.runtime}`,
            );
          if (args.stdin !== undefined)
            throw new ToolError("stdin: a context's cells have no standard input");
          const cell: ExecutionRequest = {
            runtime: context.runtime,
            code: args.code,
            contextId: context.id,
            timeoutMs: clampTimeout(args.timeoutMs, policy, notices),
          };
          return runResult(
            await withProgress(extra, () => sandboxes.runInSession(session.id, cell, extra.signal)),
            notices,
          );
        }
        const wanted = args.runtime ?? session.runtime;
        const base = {
          runtime: session.runtime,
          timeoutMs: clampTimeout(args.timeoutMs, policy, notices),
          ...(args.stdin !== undefined ? { stdin: args.stdin } : {}),
        };
        let request: ExecutionRequest;
        if (wanted === session.runtime) request = { ...base, code: args.code };
        else if (wanted === "bash") {
          if (args.code.trim() === "") throw new ToolError("code: empty bash script");
          request = { ...base, cmd: args.code };
        } else
          throw new ToolError(
            `runtime: session ${session.id} runs ${session.runtime}; open another session for ${wanted} (or use runtime "bash" for shell commands)`,
          );
        return runResult(
          await withProgress(extra, () =>
            sandboxes.runInSession(session.id, request, extra.signal),
          ),
          notices,
        );
      }),
  );

  server.registerTool(
    "write_file",
    {
      title: "Write a file into a session",
      description:
        "Create or replace a file in a session's /sandbox (parent directories are created), or with contextId in that code context's own /sandbox, where its cells read files. Give the content as text in `content`, or as base64 in `contentBase64` for binary files - exactly one of the two.",
      inputSchema: z.strictObject({
        sessionId,
        path: filePath,
        content: z.string().optional().describe("The file's text (UTF-8)"),
        contentBase64: z.string().optional().describe("The file's bytes, base64-encoded"),
        contextId: contextFiles,
      }),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
    },
    (args) =>
      guarded(async () => {
        if ((args.content === undefined) === (args.contentBase64 === undefined))
          throw new ToolError("give exactly one of content and contentBase64");
        let bytes: Buffer;
        if (args.content !== undefined) bytes = Buffer.from(args.content, "utf8");
        else {
          const b64 = (args.contentBase64 ?? "").replace(/\s+/g, "");
          if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1)
            throw new ToolError("contentBase64: not base64");
          bytes = Buffer.from(b64, "base64");
        }
        const path = inSandbox(args.path);
        sandboxes.session(args.sessionId);
        await sandboxes.writeFile(args.sessionId, path, bytes, args.contextId);
        return text(`wrote ${bytes.length} bytes to ${path}`);
      }),
  );

  server.registerTool(
    "read_file",
    {
      title: "Read a file from a session",
      description: `Read a file from a session's /sandbox, or with contextId from that code context's own /sandbox (files its cells wrote). Text comes back as text; a PNG, JPEG, GIF or WebP image as an image; other binary files as base64. Files over ${policy.maxOutputBytes} bytes are cut (text) or refused (binary): read parts with run_in_session (head, tail, grep).`,
      inputSchema: z.strictObject({ sessionId, path: filePath, contextId: contextFiles }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) =>
      guarded(async () => {
        const path = inSandbox(args.path);
        sandboxes.session(args.sessionId);
        const bytes = await sandboxes.readFile(args.sessionId, path, args.contextId);
        return fileResult(path, bytes, policy.maxOutputBytes);
      }),
  );

  server.registerTool(
    "list_files",
    {
      title: "List files in a session",
      description:
        "List the files under a directory of a session's /sandbox (default /sandbox itself), recursively: type, size in bytes, modification time (UTC) and path. node_modules, .packages and __pycache__ are shown but not descended into.",
      inputSchema: z.strictObject({
        sessionId,
        path: filePath.optional().describe("Directory (or file) to list; default /sandbox"),
      }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args, extra) =>
      guarded(async () => {
        const session = sandboxes.session(args.sessionId);
        const path = args.path === undefined ? SANDBOX_DIR : inSandbox(args.path, true);
        const listed = await sandboxes.runInSession(
          session.id,
          { runtime: session.runtime, cmd: LIST_SCRIPT, env: { ISOL8_LIST: path } },
          extra.signal,
        );
        return listResult(path, listed);
      }),
  );

  registerProcessTools(server, sandboxes.live, policy);
  return server;
}

/**
 * Lists a directory inside /sandbox (resolved as the sandbox user, refusing
 * anything that leads outside), one NUL-terminated record per entry:
 * type, size, mtime, path.
 */
const LIST_SCRIPT = `
p=$(realpath -e -- "$ISOL8_LIST" 2>/dev/null) || { echo "no such file or directory" >&2; exit 4; }
case "$p/" in ${SANDBOX_DIR}/*) ;; *) echo "resolves outside ${SANDBOX_DIR}" >&2; exit 3;; esac
fmt='%y\\t%s\\t%TY-%Tm-%Td %TH:%TM\\t%P\\0'
if [ ! -d "$p" ]; then cd "$(dirname "$p")" && exec find "$(basename "$p")" -maxdepth 0 -printf "\${fmt/\\%P/%p}"; fi
cd "$p" && find . -mindepth 1 \\( -name node_modules -o -name .packages -o -name __pycache__ \\) -prune -printf "$fmt" -o -printf "$fmt" | sort -z -t "$(printf '\\t')" -k4
`;

function listResult(path: string, listed: RunOutput): CallToolResult {
  const { result } = listed;
  if (result.exitCode !== 0 || result.timedOut) {
    const why = listed.stderr.trim().split("\n").pop() || `exit ${result.exitCode}`;
    throw new ToolError(`${path}: ${why}`);
  }
  const records = listed.stdout.split("\0").filter((r) => r !== "");
  if (records.length === 0) return text(`${path}: empty directory`);
  const rows = records.slice(0, MAX_LISTED).map((record) => {
    const [type = "?", size = "", mtime = "", name = ""] = record.split("\t");
    const kind = type === "d" ? "dir " : type === "l" ? "link" : type === "f" ? "file" : type;
    const shown = type === "d" ? `${name}/` : name;
    return `${kind}  ${(type === "d" ? "-" : size).padStart(10)}  ${mtime}  ${shown}`;
  });
  const more =
    records.length > MAX_LISTED ? [`... and ${records.length - MAX_LISTED} more entries`] : [];
  const cut = result.truncated ? ["(listing cut at the output limit)"] : [];
  return text(
    [
      `${path} (${records.length} ${records.length === 1 ? "entry" : "entries"}):`,
      ...rows,
      ...more,
      ...cut,
    ].join("\n"),
  );
}

/** A file's bytes as MCP content: text, an image, or base64. */
function fileResult(path: string, bytes: Buffer, limit: number): CallToolResult {
  const image = IMAGE_TYPES.find(([, is]) => is(bytes));
  if (image) {
    if (bytes.length > limit)
      throw new ToolError(`${path}: ${bytes.length} bytes, more than read_file returns (${limit})`);
    return {
      content: [
        { type: "text", text: `${path}: ${image[0]}, ${bytes.length} bytes` },
        { type: "image", data: bytes.toString("base64"), mimeType: image[0] },
      ],
    };
  }
  let decoded: string | undefined;
  if (!bytes.includes(0)) {
    try {
      decoded = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      decoded = undefined;
    }
  }
  if (decoded === undefined) {
    if (bytes.length > limit)
      throw new ToolError(
        `${path}: a binary file of ${bytes.length} bytes, more than read_file returns (${limit}); read parts with run_in_session`,
      );
    return text(`${path}: binary, ${bytes.length} bytes, base64:\n${bytes.toString("base64")}`);
  }
  if (bytes.length <= limit) return text(decoded);
  // Cut on a character boundary: a partial UTF-8 sequence at the end is dropped.
  const head = new TextDecoder("utf-8").decode(bytes.subarray(0, limit)).replace(/\uFFFD$/, "");
  return text(
    `${head}\n[read_file: ${path} is ${bytes.length} bytes; only the first ${limit} are shown]`,
  );
}

/** Absolute path in /sandbox for a path a model gave, relative ones resolved against /sandbox. */
function inSandbox(path: string, allowRoot = false): string {
  const place = sandboxPlace(path.startsWith("/") ? path : `${SANDBOX_DIR}/${path}`);
  if (!place.inside) throw new ToolError(`path: "${path}" is outside /sandbox`);
  if (place.isSandboxDir) {
    if (allowRoot) return SANDBOX_DIR;
    throw new ToolError(`path: "${path}" is the /sandbox directory itself; name a file inside it`);
  }
  // Normalized paths keep at most one trailing slash; a file operation names the file without it.
  return place.path.replace(/\/$/, "");
}

/** The config's timeout is the ceiling: a larger request is cut to it, with a notice. */
function clampTimeout(asked: number | undefined, policy: McpPolicy, notices: string[]): number {
  if (asked === undefined) return policy.maxTimeoutMs;
  if (asked <= policy.maxTimeoutMs) return asked;
  notices.push(
    `timeoutMs ${asked} is above this server's limit; the run used ${policy.maxTimeoutMs} ms`,
  );
  return policy.maxTimeoutMs;
}

/**
 * A run as text: exit code, stdout, stderr, notices. A context cell's rich
 * outputs (result.outputs) come in between, where they came in stdout: a
 * PNG as image content, SVG and HTML as text blocks of their own.
 */
function runResult(output: RunOutput, before: string[]): CallToolResult {
  const { result } = output;
  const outputs = result.outputs ?? [];
  const content: CallToolResult["content"] = [];
  let parts = [`exit code: ${result.exitCode}`];
  const label = result.installFailed ? " (package install)" : result.setupFailed ? " (setup)" : "";
  let shown = 0;
  let heading = `--- stdout${label} ---\n`;
  for (const rich of outputs) {
    const segment = output.stdout.slice(shown, rich.stdoutOffset);
    if (segment) {
      parts.push(`${heading}${segment.replace(/\n$/, "")}`);
      heading = "";
    }
    shown = Math.max(shown, rich.stdoutOffset);
    if (parts.length) content.push({ type: "text", text: parts.join("\n") });
    parts = [];
    content.push(
      rich.type === "image/png"
        ? { type: "image", data: rich.data, mimeType: rich.type }
        : { type: "text", text: `--- ${rich.type} ---\n${rich.data}` },
    );
  }
  const rest = output.stdout.slice(shown);
  if (rest) parts.push(`${heading}${rest.replace(/\n$/, "")}`);
  if (output.stderr) parts.push(`--- stderr${label} ---\n${output.stderr.replace(/\n$/, "")}`);
  if (result.value !== undefined) parts.push(`--- value ---\n${result.value}`);
  if (!output.stdout && !output.stderr && result.value === undefined && !outputs.length)
    parts.push("(no output)");
  const notices = [...before, ...output.notices];
  if (notices.length) parts.push(`--- notices ---\n${notices.join("\n")}`);
  if (parts.length) content.push({ type: "text", text: parts.join("\n") });
  return { content };
}

/**
 * Runs `work`; when the client sent a progress token, tells it every few
 * seconds that the call is still running, so a client that resets its
 * request timeout on progress waits for a long run.
 */
async function withProgress<T>(extra: Extra, work: () => Promise<T>): Promise<T> {
  const progressToken = extra._meta?.progressToken;
  if (progressToken === undefined) return work();
  const started = Date.now();
  const timer = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1000);
    extra
      .sendNotification({
        method: "notifications/progress",
        params: { progressToken, progress: seconds, message: `running for ${seconds} s` },
      })
      .catch(() => undefined);
  }, PROGRESS_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
