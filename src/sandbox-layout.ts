/**
 * The sandbox's layout, as every part of isol8 sees it: who the program runs
 * as, where its files live, what environment it starts from, and the one rule
 * for "is this path inside /sandbox". The supervisor (`sandbox/supervisor.c`)
 * and the images hold the same facts on their side; a change here must be
 * made there too.
 */
import { posix } from "node:path";

/** The sandbox user's uid: programs, bootstraps, installers and file operations run as it. */
export const SANDBOX_UID = 100;
/** The sandbox user's gid. */
export const SANDBOX_GID = 100;

/** The program's home and default working directory: a tmpfs owned by the sandbox user. */
export const SANDBOX_DIR = "/sandbox";
/**
 * Where an image keeps what its build left in /sandbox (which the /sandbox
 * tmpfs hides at run time): the supervisor copies it into /sandbox when the
 * container starts and after every wipe (sandbox/sandbox-seed.c).
 */
export const SANDBOX_SEED_DIR = "/usr/local/share/isol8/sandbox-seed";
/** The scratch tmpfs every user may write to (noexec). */
export const TMP_DIR = "/tmp";
/** Where the base image keeps the files of `sandbox/bootstrap/` (bootstraps and kernels). */
export const BOOTSTRAP_DIR = "/usr/local/lib/isol8";
/** The images' system CA bundle (Debian's), which installers at build time are pointed at. */
export const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** The environment every program starts from; nothing of the host's leaks in. */
export const BASE_ENV: Readonly<Record<string, string>> = {
  PATH: "/usr/local/bin:/usr/bin:/bin",
  HOME: SANDBOX_DIR,
  LANG: "C.UTF-8",
  TMPDIR: TMP_DIR,
};

/** Why a path is not inside /sandbox: the phrase that follows the quoted path. */
type SandboxPathProblem = "must be an absolute path inside /sandbox" | "is outside /sandbox";

/** Where a path lands: inside /sandbox (normalized), or a problem. */
type SandboxPlace =
  | {
      readonly inside: true;
      /** The path normalized (`.`, `..` and repeated slashes resolved; one trailing slash kept). */
      readonly path: string;
      /** Whether it is the /sandbox directory itself rather than something in it. */
      readonly isSandboxDir: boolean;
    }
  | { readonly inside: false; readonly problem: SandboxPathProblem };

/**
 * The one rule for "is this path inside /sandbox", for request files, output
 * paths, working directories and file operations: `path` must be a string
 * starting with `/`, and once normalized be /sandbox itself or lie below it
 * (`/sandboxes/a` does not; `/sandbox/a/../..` is `/`). Whether /sandbox itself
 * is acceptable is the caller's to say. This is a rule about the path's text:
 * where a symlink in the sandbox leads is checked in the container, as the
 * sandbox user, with `realpath` (see `src/engine/session-files.ts`).
 */
export function sandboxPlace(path: unknown): SandboxPlace {
  if (typeof path !== "string" || !path.startsWith("/"))
    return { inside: false, problem: "must be an absolute path inside /sandbox" };
  const normalized = posix.normalize(path);
  const isSandboxDir = normalized === SANDBOX_DIR || normalized === `${SANDBOX_DIR}/`;
  if (!isSandboxDir && !normalized.startsWith(`${SANDBOX_DIR}/`))
    return { inside: false, problem: "is outside /sandbox" };
  return { inside: true, path: normalized, isSandboxDir };
}
