/**
 * The supervisor's file records as `EntryInfo`s and its error answers as
 * error classes. Pure: no I/O.
 */
import { posix } from "node:path";
import { SandboxFileError } from "../engine/session-files.js";
import { SandboxFileNotFoundError, SandboxFileRefusedError } from "./errors.js";
import type { FileRecord } from "./file-protocol.js";
import type { EntryInfo, FileType } from "./types.js";

const TYPES: Record<string, { type: FileType; letter: string }> = {
  f: { type: "file", letter: "-" },
  d: { type: "dir", letter: "d" },
  l: { type: "symlink", letter: "l" },
  p: { type: "fifo", letter: "p" },
  s: { type: "socket", letter: "s" },
  c: { type: "char-device", letter: "c" },
  b: { type: "block-device", letter: "b" },
};

/** `ls -l`'s ten characters for a type letter and mode bits. */
export function permissionString(typeLetter: string, mode: number): string {
  const triplet = (shift: number, special: number, mark: string) => {
    const bits = (mode >> shift) & 7;
    const execute = bits & 1;
    const last = mode & special ? (execute ? mark : mark.toUpperCase()) : execute ? "x" : "-";
    return `${bits & 4 ? "r" : "-"}${bits & 2 ? "w" : "-"}${last}`;
  };
  return (
    (TYPES[typeLetter]?.letter ?? "?") +
    triplet(6, 0o4000, "s") +
    triplet(3, 0o2000, "s") +
    triplet(0, 0o1000, "t")
  );
}

/** An entry at `path` (absolute) from its record. */
export function entryInfo(path: string, record: FileRecord): EntryInfo {
  return {
    name: posix.basename(path),
    path,
    type: TYPES[record.type]?.type ?? "unknown",
    size: record.size,
    mode: record.mode,
    permissions: permissionString(record.type, record.mode),
    modifiedTime: new Date(record.modifiedMs),
    ...(record.target === undefined ? {} : { symlinkTarget: record.target }),
  };
}

/** The entries of a listing of `folder` (absolute), from records with paths relative to it. */
export function listedEntries(folder: string, records: FileRecord[]): EntryInfo[] {
  return records.map((record) => entryInfo(posix.join(folder, record.path), record));
}

/** The error for the supervisor's answer `code text` about `path`. */
export function fileError(path: string, code: string, text: string): SandboxFileError {
  switch (code) {
    case "ENOENT":
      return new SandboxFileNotFoundError(path, "no such file or folder");
    case "ESCAPE":
    case "SPECIAL":
      return new SandboxFileRefusedError(path, text);
    default:
      return new SandboxFileError(path, `${text} (${code})`);
  }
}

/**
 * Whether `error`, from looking at a path, means nothing is there: it is
 * missing, or a file stands where a folder of the path should be.
 */
export function meansAbsent(error: unknown): boolean {
  if (error instanceof SandboxFileNotFoundError) return true;
  return error instanceof SandboxFileError && error.reason.endsWith("(ENOTDIR)");
}
