import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImageBuildError, lastLines } from "./errors.js";
import { describeExit, findExecutable, pathWithSbin, runCommand } from "./process.js";
import type { ProgressSink } from "./types.js";

export const DEBIAN_SUITE = "bookworm";
const DEBIAN_MIRROR = "http://deb.debian.org/debian";
const DEBIAN_SECURITY_MIRROR = "http://deb.debian.org/debian-security";
const DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

/** Bump when prepareRootfs changes what it writes into the tree. */
const ROOTFS_PREP_VERSION = 1;

/** What went into a bootstrapped rootfs (hashed into its `isol8.inputs` label). */
export function bootstrapInputs(tool: string): Record<string, unknown> {
  return {
    source: tool,
    variant: "minbase",
    suite: DEBIAN_SUITE,
    mirror: DEBIAN_MIRROR,
    prep: ROOTFS_PREP_VERSION,
  };
}

const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * The bootstrapping tool to use: debootstrap, else mmdebstrap (both write a
 * directory tree and need root here). As root on Debian/Ubuntu with neither
 * present, installs debootstrap with apt-get.
 */
export async function chooseBootstrapTool(
  onProgress: ProgressSink,
): Promise<{ tool: "debootstrap" | "mmdebstrap"; path: string }> {
  const noRegistry =
    "Docker could not pull debian:bookworm-slim (no registry reachable?), so isol8 bootstraps Debian locally";
  if (!isRoot()) {
    throw new ImageBuildError(
      `${noRegistry}, which needs root: run \`sudo isol8 setup\` once (with debootstrap or mmdebstrap installed), or make \`docker pull debian:bookworm-slim\` work.`,
    );
  }
  const debootstrap = await findExecutable("debootstrap");
  if (debootstrap) return { tool: "debootstrap", path: debootstrap };
  const mmdebstrap = await findExecutable("mmdebstrap");
  if (mmdebstrap) return { tool: "mmdebstrap", path: mmdebstrap };
  const aptGet = await findExecutable("apt-get");
  if (aptGet) {
    onProgress?.("installing debootstrap (apt-get install -y debootstrap)");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive", PATH: pathWithSbin() };
    for (const args of [["update"], ["install", "-y", "--no-install-recommends", "debootstrap"]]) {
      const result = await runCommand(aptGet, args, { env, onLine: onProgress });
      if (result.code !== 0) {
        throw new ImageBuildError(
          `${noRegistry}, but \`apt-get ${args.join(" ")}\` failed (${describeExit(result)}): ${lastLines(result.tail)}. Install debootstrap or mmdebstrap and retry.`,
        );
      }
    }
    const installed = await findExecutable("debootstrap");
    if (installed) return { tool: "debootstrap", path: installed };
  }
  throw new ImageBuildError(
    `${noRegistry}, but neither debootstrap nor mmdebstrap is installed: install one of them (Debian/Ubuntu: \`apt-get install debootstrap\`; Fedora: \`dnf install debootstrap\`) or make \`docker pull debian:bookworm-slim\` work, then run \`isol8 setup\` again.`,
  );
}

/**
 * Bootstraps a minimal Debian bookworm tree into a new temporary directory
 * and returns it. The caller imports it and then calls removeRootfsDir.
 */
export async function bootstrapDebian(
  tool: { tool: "debootstrap" | "mmdebstrap"; path: string },
  onProgress: ProgressSink,
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "isol8-rootfs-"));
  try {
    const args = ["--variant=minbase"];
    if (existsSync(DEBIAN_KEYRING)) args.push(`--keyring=${DEBIAN_KEYRING}`);
    args.push(DEBIAN_SUITE, dir, DEBIAN_MIRROR);
    onProgress?.(`${tool.tool} ${args.join(" ")}`);
    const result = await runCommand(tool.path, args, {
      env: { ...process.env, PATH: pathWithSbin() },
      onLine: onProgress,
    });
    if (result.code !== 0) {
      throw new ImageBuildError(
        `Bootstrapping Debian ${DEBIAN_SUITE} with ${tool.tool} failed (${describeExit(result)}): ${lastLines(result.tail)}. Check that ${DEBIAN_MIRROR} is reachable and that the temp dir ${tmpdir()} allows exec and device files (set TMPDIR elsewhere otherwise).`,
      );
    }
    await prepareRootfs(dir);
    return dir;
  } catch (error) {
    await removeRootfsDir(dir).catch(() => undefined);
    throw error;
  }
}

/**
 * Makes the bootstrapped tree match what debian:bookworm-slim offers: apt
 * sources with updates and security, no docs or man pages now or later, no
 * downloaded packages, and none of the host's identity (hostname, resolver).
 */
async function prepareRootfs(dir: string): Promise<void> {
  await replaceFile(
    dir,
    "etc/apt/sources.list",
    [
      `deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE} main`,
      `deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE}-updates main`,
      `deb ${DEBIAN_SECURITY_MIRROR} ${DEBIAN_SUITE}-security main`,
      "",
    ].join("\n"),
  );
  await replaceFile(
    dir,
    "etc/dpkg/dpkg.cfg.d/isol8-slim",
    [
      "# Keep isol8 images small: no documentation, man pages or translations.",
      "path-exclude /usr/share/doc/*",
      "path-include /usr/share/doc/*/copyright",
      "path-exclude /usr/share/man/*",
      "path-exclude /usr/share/groff/*",
      "path-exclude /usr/share/info/*",
      "path-exclude /usr/share/lintian/*",
      "path-exclude /usr/share/linda/*",
      "path-exclude /usr/share/locale/*",
      "",
    ].join("\n"),
  );
  // Docker bind-mounts these in containers; the host's values must not be baked in.
  await replaceFile(dir, "etc/hostname", "");
  await replaceFile(dir, "etc/resolv.conf", "");
  await emptyDir(join(dir, "var/cache/apt/archives"), (name) => name.endsWith(".deb"));
  await emptyDir(join(dir, "var/cache/apt"), (name) => name.endsWith(".bin"));
  await emptyDir(join(dir, "var/lib/apt/lists"), (name) => name !== "lock" && name !== "partial");
  await emptyDir(join(dir, "usr/share/man"), () => true);
  await emptyDir(join(dir, "usr/share/info"), () => true);
  await emptyDir(join(dir, "usr/share/locale"), () => true);
  for (const pkg of await readdir(join(dir, "usr/share/doc")).catch(() => [])) {
    await emptyDir(join(dir, "usr/share/doc", pkg), (name) => name !== "copyright");
  }
}

/**
 * Writes a file inside the tree, replacing whatever is there. Never writes
 * through an existing path: a symlink in the tree (say /etc/resolv.conf ->
 * /run/...) would otherwise lead to the host's own file.
 */
async function replaceFile(root: string, relative: string, content: string): Promise<void> {
  const path = join(root, relative);
  await rm(path, { force: true });
  await writeFile(path, content, { flag: "wx", mode: 0o644 });
}

async function emptyDir(dir: string, select: (name: string) => boolean): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names.filter(select).map((name) => rm(join(dir, name), { recursive: true, force: true })),
  );
}

/**
 * Removes a bootstrap directory. A failed debootstrap can leave /proc or
 * /sys mounted inside it: unmount those first and never delete through a
 * mount point.
 */
export async function removeRootfsDir(dir: string): Promise<void> {
  const mountsUnder = async (): Promise<string[]> => {
    const mounts = await readFile("/proc/self/mounts", "utf8").catch(() => "");
    return mounts
      .split("\n")
      .map((line) => (line.split(" ")[1] ?? "").replace(/\\040/g, " "))
      .filter((point) => point.startsWith(`${dir}/`))
      .sort((a, b) => b.length - a.length);
  };
  for (const point of await mountsUnder()) {
    await runCommand("umount", ["-l", point], { env: { ...process.env, PATH: pathWithSbin() } });
  }
  if ((await mountsUnder()).length > 0) {
    throw new ImageBuildError(
      `Cannot remove ${dir}: filesystems are still mounted under it; unmount them and delete it by hand.`,
    );
  }
  await rm(dir, { recursive: true, force: true });
}
