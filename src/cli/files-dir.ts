/**
 * `isol8 run --files DIR`: a host directory, walked recursively, as the
 * request's `files` (text) and `filesBase64` (anything else), each at
 * /sandbox/<path relative to DIR>.
 *
 * Left out: version control, dependency folders, virtual environments and
 * caches (see SKIPPED_DIRS; also any folder holding a `pyvenv.cfg`), and
 * what is neither a file nor a folder (sockets, FIFOs, devices). Symlinks
 * are followed when they resolve inside DIR; one that points outside it,
 * points nowhere or loops is refused, as is a tree above the request's limits.
 */
import type { Dirent } from "node:fs";
import { readdir, readFile, readlink, realpath, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { MAX_FILES, MAX_FILES_BYTES } from "../engine/request.js";
import { CliError } from "./exit-codes.js";

/** Folder names never sent: version control, dependencies, virtual environments, caches. */
export const SKIPPED_DIRS: ReadonlySet<string> = new Set([
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
export interface DirFiles {
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

/**
 * Reads `dir` recursively; throws CliError (exit 2) with one line naming the
 * offending path. `flag` is how messages name the option.
 */
export async function readFilesDir(dir: string, flag = "--files"): Promise<DirFiles> {
  let root: string;
  try {
    root = await realpath(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      throw new CliError(`${flag}: ${dir}: no such directory`);
    throw fsProblem(flag, dir, error);
  }
  if (!(await stat(root)).isDirectory()) throw new CliError(`${flag}: ${dir} is not a directory`);

  const result: DirFiles = { files: {}, filesBase64: {}, skipped: [] };
  let count = 0;
  let bytes = 0;

  /** Where a symlink leads, refused unless it is an existing path inside the root. */
  const follow = async (link: string, shown: string): Promise<string> => {
    let target: string;
    try {
      target = await realpath(link);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ELOOP") throw new CliError(`${flag}: ${shown} is a symlink loop`);
      if (code !== "ENOENT") throw fsProblem(flag, shown, error);
      const lexical = resolve(dirname(link), await readlink(link));
      if (!inside(root, lexical))
        throw new CliError(`${flag}: ${shown} is a symlink to ${lexical}, outside ${dir}`);
      throw new CliError(`${flag}: ${shown} is a symlink to ${lexical}, which does not exist`);
    }
    if (!inside(root, target))
      throw new CliError(`${flag}: ${shown} is a symlink to ${target}, outside ${dir}`);
    return target;
  };

  /** `real` is the folder's real path; `rel` where it lands under /sandbox; `chain` the real paths above it. */
  const walk = async (real: string, rel: string, chain: Set<string>): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(real, { withFileTypes: true });
    } catch (error) {
      throw fsProblem(flag, join(dir, rel), error);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      const shown = join(dir, childRel);
      let path = join(real, entry.name);
      if (entry.isSymbolicLink()) path = await follow(path, shown);
      let info: Awaited<ReturnType<typeof stat>>;
      try {
        info = await stat(path);
      } catch (error) {
        throw fsProblem(flag, shown, error);
      }
      if (info.isDirectory()) {
        if (SKIPPED_DIRS.has(entry.name) || (await isVirtualenv(path))) {
          result.skipped.push(childRel);
          continue;
        }
        if (chain.has(path)) throw new CliError(`${flag}: ${shown} is a symlink loop`);
        await walk(path, childRel, new Set(chain).add(path));
        continue;
      }
      if (!info.isFile()) continue;
      count += 1;
      bytes += info.size;
      if (count > MAX_FILES)
        throw new CliError(`${flag}: ${dir} holds more than ${MAX_FILES} files`);
      if (bytes > MAX_FILES_BYTES)
        throw new CliError(`${flag}: ${dir} holds more than ${MAX_FILES_BYTES} bytes of files`);
      let content: Buffer;
      try {
        content = await readFile(path);
      } catch (error) {
        throw fsProblem(flag, shown, error);
      }
      const target = `/sandbox/${childRel}`;
      const text = asText(content);
      if (text === undefined) result.filesBase64[target] = content.toString("base64");
      else result.files[target] = text;
    }
  };

  await walk(root, "", new Set([root]));
  return result;
}

async function isVirtualenv(dir: string): Promise<boolean> {
  return stat(join(dir, "pyvenv.cfg")).then(
    (info) => info.isFile(),
    () => false,
  );
}
