import { posix } from "node:path";
import type { ExecResult } from "../backend/backend.js";
import { Isol8Error } from "../errors.js";
import { SANDBOX_DIR, sandboxPlace } from "../sandbox-layout.js";
import type { ExitReport, RunSpec } from "./protocol.js";
import { InvalidRequestError } from "./request.js";
import type { SandboxContainer } from "./sandbox-container.js";

/** Files cross the channel in parts of this size, so no frame grows without bound. */
const PART_BYTES = 8 * 1024 * 1024;

const ENV = { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" };

/** A file operation the sandbox refused; the message names the path and says why. */
export class SandboxFileError extends Isol8Error {
  override readonly name: string = "SandboxFileError";
  override readonly code: string = "SANDBOX_FILE";

  constructor(
    /** The file, inside /sandbox. */
    readonly path: string,
    /** Why, without the path. */
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/** A file larger than the caller's limit: refused by its size before any of it was read. */
export class SandboxFileTooLargeError extends SandboxFileError {
  override readonly name = "SandboxFileTooLargeError";
  override readonly code = "SANDBOX_FILE_TOO_LARGE";
}

/** The exit code READ_INSIDE gives a file over its limit; its stderr says the size. */
const TOO_LARGE_EXIT = 6;

/** A file withheld because it holds the value of a secret (a file is never edited to mask it). */
export class WithheldFileError extends SandboxFileError {
  override readonly name = "WithheldFileError";
  override readonly code = "WITHHELD_FILE";
}

/** Checks that `path` is an absolute path inside /sandbox and returns it normalized. */
export function sandboxPath(path: string): string {
  const place = sandboxPlace(path);
  if (!place.inside) throw new InvalidRequestError(`path: "${String(path)}" ${place.problem}`);
  if (place.isSandboxDir) throw new InvalidRequestError(`path: "${path}" is outside /sandbox`);
  return place.path;
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
case "$p/" in ${SANDBOX_DIR}/*) ;; *) echo "resolves outside ${SANDBOX_DIR} (to $p)" >&2; exit 3;; esac
`;

async function runQuiet(
  container: SandboxContainer,
  spec: Omit<RunSpec, "env" | "workdir" | "outputLimit">,
  limit: number,
) {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const report: ExitReport = await container.run(
    { ...spec, env: ENV, workdir: SANDBOX_DIR, outputLimit: limit },
    { stdout: (c) => stdout.push(c), stderr: (c) => stderr.push(c) },
  );
  return { report, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString().trim() };
}

function fail(path: string, stderr: string): never {
  throw new SandboxFileError(path, stderr.replace(/^isol8: /, "") || "refused");
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

/**
 * Reads a file of the sandbox, refusing anything that resolves outside
 * /sandbox, and anything larger than $3 bytes by its size before reading a
 * byte of it: the engine never takes in more than the caller can keep (a
 * file that grows after the check is cut at the read's output limit, and
 * refused as well).
 */
const READ_INSIDE = `${RESOLVE_INSIDE}
[ -f "$p" ] || { echo "not a regular file" >&2; exit 5; }
# wc takes a regular file's size from fstat, without reading it (stat(1) uses a
# statx flag that gVisor refuses).
size=$(wc -c < "$p") || exit 4
[ "$size" -le "$3" ] || { echo "$size bytes is larger than the limit of $3 bytes" >&2; exit ${TOO_LARGE_EXIT}; }
exec cat -- "$p"`;

function readArgv(target: string, maxBytes: number): string[] {
  return ["bash", "-c", READ_INSIDE, "isol8", "-e", target, String(maxBytes)];
}

function tooLarge(target: string, stderr: string): never {
  throw new SandboxFileTooLargeError(target, stderr);
}

/**
 * Reads a file of the sandbox, refusing anything that resolves outside
 * /sandbox; one larger than `maxBytes` is a SandboxFileTooLargeError, and
 * none of it crosses the channel.
 */
export async function readSandboxFile(
  container: SandboxContainer,
  path: string,
  maxBytes: number,
  timeoutMs: number,
): Promise<Buffer> {
  const target = sandboxPath(path);
  const read = await runQuiet(
    container,
    { argv: readArgv(target, maxBytes), files: [], timeoutMs },
    // The limit covers stderr too, which must have room to say why.
    Math.max(maxBytes, 4096),
  );
  if (read.report.exitCode === TOO_LARGE_EXIT) tooLarge(target, read.stderr);
  if (read.report.exitCode !== 0) fail(target, read.stderr);
  if (read.report.stdoutTruncated || read.stdout.length > maxBytes)
    tooLarge(target, `larger than the limit of ${maxBytes} bytes (it grew while it was read)`);
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
  const read = await container.exec(readArgv(target, maxBytes), { maxBytes, timeoutMs });
  if (read.truncated)
    tooLarge(target, `larger than the limit of ${maxBytes} bytes (it grew while it was read)`);
  if (read.exitCode === TOO_LARGE_EXIT) tooLarge(target, read.stderr);
  assertExecOk(target, read);
  return read.stdout;
}

function assertExecOk(target: string, result: ExecResult): void {
  if (result.timedOut || result.exitCode === 137) throw new SandboxFileError(target, "timed out");
  if (result.exitCode === -1)
    throw new SandboxFileError(target, "the sandbox did not report the result");
  if (result.exitCode !== 0) fail(target, result.stderr);
}
