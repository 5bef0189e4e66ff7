import { posix } from "node:path";
import type { ExitReport, RunSpec } from "./protocol.js";
import { InvalidRequestError } from "./request.js";
import type { ExecResult, SandboxContainer } from "./sandbox-container.js";

/** Files cross the channel in parts of this size, so no frame grows without bound. */
const PART_BYTES = 8 * 1024 * 1024;

const ENV = { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" };

/** A file operation the sandbox refused; the message says why. */
export class SandboxFileError extends Error {
  override readonly name = "SandboxFileError";
}

/** A file withheld because it holds the value of a secret (a file is never edited to mask it). */
export class WithheldFileError extends SandboxFileError {}

/** Checks that `path` is an absolute path inside /sandbox and returns it normalized. */
export function sandboxPath(path: string): string {
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new InvalidRequestError(
      `path: "${String(path)}" must be an absolute path inside /sandbox`,
    );
  }
  const normalized = posix.normalize(path);
  if (!normalized.startsWith("/sandbox/") || normalized.length <= "/sandbox/".length) {
    throw new InvalidRequestError(`path: "${path}" is outside /sandbox`);
  }
  return normalized;
}

/**
 * Resolves symlinks in the sandbox (as the sandbox user) and fails unless the
 * result stays inside /sandbox; `mustExist` also requires the file itself.
 * In a session's container nothing else runs meanwhile, so the answer holds
 * for the operation that follows (a context's is another matter: see
 * writeContextFile).
 */
const RESOLVE_INSIDE = `
p=$(realpath $1 -- "$2" 2>/dev/null) || { echo "no such file" >&2; exit 4; }
case "$p/" in /sandbox/*) ;; *) echo "resolves outside /sandbox (to $p)" >&2; exit 3;; esac
`;

async function runQuiet(
  container: SandboxContainer,
  spec: Omit<RunSpec, "env" | "workdir" | "outputLimit">,
  limit: number,
) {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const report: ExitReport = await container.run(
    { ...spec, env: ENV, workdir: "/sandbox", outputLimit: limit },
    { stdout: (c) => stdout.push(c), stderr: (c) => stderr.push(c) },
  );
  return { report, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString().trim() };
}

function fail(path: string, stderr: string): never {
  throw new SandboxFileError(`${path}: ${stderr.replace(/^isol8: /, "") || "refused"}`);
}

/** Writes a file into the sandbox, as the sandbox user, through the supervisor's channel. */
export async function writeSandboxFile(
  container: SandboxContainer,
  path: string,
  content: Buffer,
  timeoutMs: number,
): Promise<void> {
  const target = sandboxPath(path);
  const parent = posix.dirname(target);
  const check = await runQuiet(
    container,
    {
      argv: [
        "bash",
        "-c",
        `mkdir -p -- "$2" 2>/dev/null; ${RESOLVE_INSIDE}`,
        "isol8",
        "-e",
        parent,
      ],
      files: [],
      timeoutMs,
    },
    4096,
  );
  if (check.report.exitCode !== 0) fail(target, check.stderr);
  for (let offset = 0; offset === 0 || offset < content.length; offset += PART_BYTES) {
    const part = content.subarray(offset, offset + PART_BYTES);
    const written = await runQuiet(
      container,
      { argv: ["true"], files: [{ path: target, content: part, append: offset > 0 }], timeoutMs },
      4096,
    );
    if (written.report.exitCode !== 0) fail(target, written.stderr);
  }
}

/** Reads a file of the sandbox, refusing anything that resolves outside /sandbox. */
const READ_INSIDE = `${RESOLVE_INSIDE}\n[ -f "$p" ] || { echo "not a regular file" >&2; exit 5; }\nexec cat -- "$p"`;

/** Reads a file of the sandbox, refusing anything that resolves outside /sandbox. */
export async function readSandboxFile(
  container: SandboxContainer,
  path: string,
  maxBytes: number,
  timeoutMs: number,
): Promise<Buffer> {
  const target = sandboxPath(path);
  const read = await runQuiet(
    container,
    {
      argv: ["bash", "-c", READ_INSIDE, "isol8", "-e", target],
      files: [],
      timeoutMs,
    },
    maxBytes,
  );
  if (read.report.exitCode !== 0) fail(target, read.stderr);
  if (read.report.stdoutTruncated)
    throw new SandboxFileError(`${target}: larger than ${maxBytes} bytes`);
  return read.stdout;
}

/**
 * A code context's files: its container's supervisor is running the kernel,
 * so these go through `docker exec` as the sandbox user instead of the
 * supervisor's channel. Cells do not run meanwhile (the context's calls take
 * turns), but a cell's background threads might, and could swap a path for
 * a symlink between the check and the open: the check is then only
 * best-effort - but whatever is read or written, it is with the sandbox
 * user's own permissions, as the cell itself could.
 */
export async function writeContextFile(
  container: SandboxContainer,
  path: string,
  content: Buffer,
  timeoutMs: number,
): Promise<void> {
  const target = sandboxPath(path);
  const script = (before: string, then: string) => [
    "bash",
    "-c",
    `${before}\n${RESOLVE_INSIDE}\n[ -e "$p" ] && [ ! -f "$p" ] && { [ -d "$p" ] && echo "is a directory" >&2 || echo "not a regular file" >&2; exit 5; }\n${then}`,
    "isol8",
    "-m",
    target,
  ];
  // Checked first, so a refusal is said before the content is sent (a
  // process that leaves without reading it breaks the stream); checked
  // again by the writer.
  const check = script('mkdir -p -- "$(dirname -- "$2")" 2>/dev/null', "exit 0");
  assertExecOk(target, await container.exec(check, { maxBytes: 4096, timeoutMs }));
  const write = script("", 'exec cat > "$p"');
  assertExecOk(target, await container.exec(write, { stdin: content, maxBytes: 4096, timeoutMs }));
}

/** Reads a code context's file (see writeContextFile), up to `maxBytes`. */
export async function readContextFile(
  container: SandboxContainer,
  path: string,
  maxBytes: number,
  timeoutMs: number,
): Promise<Buffer> {
  const target = sandboxPath(path);
  const read = await container.exec(["bash", "-c", READ_INSIDE, "isol8", "-e", target], {
    maxBytes,
    timeoutMs,
  });
  if (read.truncated) throw new SandboxFileError(`${target}: larger than ${maxBytes} bytes`);
  assertExecOk(target, read);
  return read.stdout;
}

function assertExecOk(target: string, result: ExecResult): void {
  if (result.timedOut || result.exitCode === 137)
    throw new SandboxFileError(`${target}: timed out`);
  if (result.exitCode === -1)
    throw new SandboxFileError(`${target}: the sandbox did not report the result`);
  if (result.exitCode !== 0) fail(target, result.stderr);
}
