import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import type { Readable } from "node:stream";
import { ImageBuildError, lastLines } from "./errors.js";
import { describeExit, runCommand } from "./process.js";

/** A running `tar -c` of a directory: its uncompressed archive on `stream`. */
interface DirectoryArchive {
  stream: Readable;
  /** Resolves when tar exited 0; rejects with its error output otherwise. */
  finished: Promise<void>;
  /** Stops tar (when the consumer failed and will not read the rest). */
  abort: () => void;
}

/**
 * Streams a directory as an uncompressed tar archive with numeric owners
 * (the system `tar`, which keeps device files, hard links and modes exact;
 * Docker reads uncompressed build contexts and imports without gzip cost).
 */
export function archiveDirectory(dir: string, what: string): DirectoryArchive {
  const child = spawn("tar", ["--numeric-owner", "-C", dir, "-c", "."], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const errors: string[] = [];
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => errors.push(...chunk.split("\n")));
  const finished = new Promise<void>((resolve, reject) => {
    child.on("error", (error) =>
      reject(new ImageBuildError(`Cannot run tar to pack ${what}: ${error.message}`)),
    );
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new ImageBuildError(
            `Packing ${what} with tar failed (${signal ? `signal ${signal}` : `exit code ${code}`}): ${lastLines(errors)}`,
          ),
        );
    });
  });
  // Rejections are observed by whoever awaits `finished`; avoid unhandled ones after abort.
  finished.catch(() => undefined);
  return { stream: child.stdout, finished, abort: () => child.kill() };
}

/** Extracts a .tgz into `dir` (created if needed). */
export async function extractTarball(file: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const result = await runCommand("tar", ["--no-same-owner", "-xzf", file, "-C", dir]);
  if (result.code !== 0) {
    throw new ImageBuildError(
      `Extracting ${file} failed (${describeExit(result)}): ${lastLines(result.tail)}`,
    );
  }
}
