/**
 * `isol8 run --files DIR`: a host directory, walked recursively, as the
 * request's `files` (text) and `filesBase64` (anything else), each at
 * /sandbox/<path relative to DIR>.
 *
 * Left out: version control, dependency folders, virtual environments and
 * caches (see SKIPPED_DIRS; also any folder holding a `pyvenv.cfg`), and
 * what is neither a file nor a folder (sockets, FIFOs, devices). Symlinks
 * are followed when they resolve inside DIR; one that points outside it,
 * points nowhere or loops is refused, as is a tree above the request's limits,
 * and an entry that is no longer what was listed when it is opened.
 */
import { constants, type Dirent, existsSync, type Stats } from "node:fs";
import { type FileHandle, lstat, open, readdir, readlink, realpath, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { MAX_FILES, MAX_FILES_BYTES } from "../engine/request.js";
import { CliError } from "./exit-codes.js";

/** Folder names never sent: version control, dependencies, virtual environments, caches. */
const SKIPPED_DIRS: ReadonlySet<string> = new Set([
  ".git",
  "node_modules",
  "__pycache__",
  ".venv",
  "venv",
  ".cache",
  ".pytest_cache",
  ".mypy_cache",
]);

/** A directory's files as request fields, and what was left out. */
interface DirFiles {
  /** /sandbox/<relative path> -> UTF-8 text. */
  files: Record<string, string>;
  /** /sandbox/<relative path> -> base64 of the bytes (files that are not UTF-8 text). */
  filesBase64: Record<string, string>;
  /** Relative paths of the folders left out, in walk order. */
  skipped: string[];
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The text of `bytes` when it is UTF-8 with no NUL byte (so it survives as a string), else undefined. */
function asText(bytes: Buffer): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

function fsProblem(flag: string, path: string, error: unknown): CliError {
  return new CliError(
    `${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
  );
}

/** Test points of the walk: where another process could change the directory between two steps. */
interface WalkHooks {
  /** Called for each entry after it was listed and checked, before it is opened. */
  beforeOpen?: (relativePath: string) => void | Promise<void>;
}

/**
 * Linux names each open file at /proc/self/fd/N, and a lookup below that name
 * starts from the opened directory itself (like openat(2)), so a folder
 * renamed or swapped for a symlink after it was opened cannot redirect what
 * is read from it. Elsewhere lookups go by path and the dev/ino check alone
 * catches a swap.
 */
const FD_PATHS = existsSync("/proc/self/fd");

/** An open folder of the walk: where its entries are looked up, and its real path for messages and the fallback. */
interface OpenDir {
  lookup: string;
  real: string;
}

/**
 * Reads `dir` recursively; throws CliError (exit 2) with one line naming the
 * offending path. `flag` is how messages name the option.
 *
 * Each entry is checked when it is listed (type, symlink target inside the
 * directory), then opened without following a symlink in its last component,
 * and refused unless the opened file is the listed one (same device and
 * inode) and, where /proc shows it, lies inside the directory: a process that
 * can write into the directory cannot swap an entry for a link to a file
 * outside it in between.
 */
export async function readFilesDir(
  dir: string,
  flag = "--files",
  hooks: WalkHooks = {},
): Promise<DirFiles> {
  let root: string;
  try {
    root = await realpath(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      throw new CliError(`${flag}: ${dir}: no such directory`);
    throw fsProblem(flag, dir, error);
  }
  const rootInfo = await lstat(root);
  if (!rootInfo.isDirectory()) throw new CliError(`${flag}: ${dir} is not a directory`);

  const result: DirFiles = { files: {}, filesBase64: {}, skipped: [] };
  let count = 0;
  let bytes = 0;

  /** Where a symlink leads, refused unless it is an existing path inside the root; `real` names the link itself. */
  const follow = async (link: string, real: string, shown: string): Promise<string> => {
    let target: string;
    try {
      target = await realpath(link);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ELOOP") throw new CliError(`${flag}: ${shown} is a symlink loop`);
      if (code !== "ENOENT") throw fsProblem(flag, shown, error);
      const lexical = resolve(dirname(real), await readlink(link));
      if (!inside(root, lexical))
        throw new CliError(`${flag}: ${shown} is a symlink to ${lexical}, outside ${dir}`);
      throw new CliError(`${flag}: ${shown} is a symlink to ${lexical}, which does not exist`);
    }
    if (!inside(root, target))
      throw new CliError(`${flag}: ${shown} is a symlink to ${target}, outside ${dir}`);
    return target;
  };

  /** Opens what was listed at `path` as `listed`, or refuses: never a link, never another file. */
  const openListed = async (path: string, listed: Stats, shown: string): Promise<FileHandle> => {
    const changed = () =>
      new CliError(`${flag}: ${shown} changed while it was being read; nothing was sent`);
    const kind = listed.isDirectory() ? constants.O_DIRECTORY : 0;
    let handle: FileHandle;
    try {
      // O_NONBLOCK: a FIFO swapped in must not hang the open (the inode check then refuses it).
      handle = await open(
        path,
        constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | kind,
      );
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ELOOP" || code === "ENOTDIR" || code === "ENOENT") throw changed();
      throw fsProblem(flag, shown, error);
    }
    try {
      const opened = await handle.stat();
      if (opened.dev !== listed.dev || opened.ino !== listed.ino) throw changed();
      if (FD_PATHS && !inside(root, await realpath(`/proc/self/fd/${handle.fd}`))) throw changed();
      return handle;
    } catch (error) {
      await handle.close();
      throw error;
    }
  };

  /** `rel` is where the folder lands under /sandbox; `chain` the folders (device:inode) above it. */
  const walk = async (folder: OpenDir, rel: string, chain: Set<string>): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(folder.lookup, { withFileTypes: true });
    } catch (error) {
      throw fsProblem(flag, join(dir, rel), error);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      const shown = join(dir, childRel);
      let path = join(folder.lookup, entry.name);
      let real = join(folder.real, entry.name);
      if (entry.isSymbolicLink()) {
        real = await follow(path, real, shown);
        path = real;
      }
      let info: Stats;
      try {
        info = await lstat(path);
      } catch (error) {
        throw fsProblem(flag, shown, error);
      }
      if (info.isDirectory()) {
        const id = `${info.dev}:${info.ino}`;
        if (SKIPPED_DIRS.has(entry.name)) {
          result.skipped.push(childRel);
          continue;
        }
        if (chain.has(id)) throw new CliError(`${flag}: ${shown} is a symlink loop`);
        await hooks.beforeOpen?.(childRel);
        const handle = await openListed(path, info, shown);
        try {
          const child = { lookup: FD_PATHS ? `/proc/self/fd/${handle.fd}` : real, real };
          if (await isVirtualenv(child.lookup)) {
            result.skipped.push(childRel);
            continue;
          }
          await walk(child, childRel, new Set(chain).add(id));
        } finally {
          await handle.close();
        }
        continue;
      }
      if (!info.isFile()) continue;
      await hooks.beforeOpen?.(childRel);
      const handle = await openListed(path, info, shown);
      let content: Buffer;
      try {
        // The size counted is the opened file's, and no more than that is read.
        const { size } = await handle.stat();
        count += 1;
        bytes += size;
        if (count > MAX_FILES)
          throw new CliError(`${flag}: ${dir} holds more than ${MAX_FILES} files`);
        if (bytes > MAX_FILES_BYTES)
          throw new CliError(`${flag}: ${dir} holds more than ${MAX_FILES_BYTES} bytes of files`);
        content = await readUpTo(handle, size);
      } catch (error) {
        if (error instanceof CliError) throw error;
        throw fsProblem(flag, shown, error);
      } finally {
        await handle.close();
      }
      const target = `/sandbox/${childRel}`;
      const text = asText(content);
      if (text === undefined) result.filesBase64[target] = content.toString("base64");
      else result.files[target] = text;
    }
  };

  await hooks.beforeOpen?.("");
  const handle = await openListed(root, rootInfo, dir);
  try {
    const top = { lookup: FD_PATHS ? `/proc/self/fd/${handle.fd}` : root, real: root };
    await walk(top, "", new Set([`${rootInfo.dev}:${rootInfo.ino}`]));
  } finally {
    await handle.close();
  }
  return result;
}

/** At most `size` bytes from the start of the file (fewer if it shrank since). */
async function readUpTo(handle: FileHandle, size: number): Promise<Buffer> {
  const buffer = Buffer.alloc(size);
  let filled = 0;
  while (filled < size) {
    const { bytesRead } = await handle.read(buffer, filled, size - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

async function isVirtualenv(dir: string): Promise<boolean> {
  return stat(join(dir, "pyvenv.cfg")).then(
    (info) => info.isFile(),
    () => false,
  );
}
