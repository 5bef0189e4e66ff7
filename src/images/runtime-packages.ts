import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DockerClient } from "../backend/docker/engine-api/client.js";
import { runtimeAdapter } from "../runtimes/index.js";
import type { Runtime } from "../runtimes/runtime.js";
import { ImageBuildError, lastLines } from "./errors.js";
import { describeExit, findExecutable, runCommand } from "./process.js";
import { extractTarball } from "./tar.js";
import type { ProgressSink } from "./types.js";

/** An npm package unpacked into a build context (its files under `<dir>/package/`). */
export interface NpmPackage {
  name: string;
  version: string;
  /** Directory in the build context the tarball is extracted into (what the Dockerfile copies from). */
  dir: string;
}

/** CPU facts of the Docker engine's host that decide which binaries to use. */
export interface EnginePlatform {
  arch: "x64" | "arm64";
  /** Whether the CPU has AVX2 (Bun's default x64 build needs it). */
  avx2: boolean;
}

/** The npm packages a runtime image is built from (its adapter's; none for python and bash). */
export function runtimePackages(runtime: Runtime, platform: EnginePlatform): NpmPackage[] {
  return runtimeAdapter(runtime).image.npmPackages?.(platform) ?? [];
}

/** The engine's CPU architecture (from the engine, which may differ from Node's) and AVX2 support. */
export async function detectEnginePlatform(docker: DockerClient): Promise<EnginePlatform> {
  const version = await docker.version();
  const engineArch = version.Arch;
  let arch: EnginePlatform["arch"];
  if (engineArch === "amd64" || engineArch === "x86_64") arch = "x64";
  else if (engineArch === "arm64" || engineArch === "aarch64") arch = "arm64";
  else {
    throw new ImageBuildError(
      `The Docker engine runs on ${engineArch}; isol8 images support amd64 and arm64 only.`,
    );
  }
  return { arch, avx2: arch === "x64" && (await cpuHasAvx2()) };
}

/**
 * AVX2 support, read from /proc/cpuinfo when this process runs on Linux (the
 * usual case: a local engine). Elsewhere (Docker Desktop) assume no AVX2 so
 * Bun's baseline build, which runs on every x64 CPU, is chosen.
 */
async function cpuHasAvx2(): Promise<boolean> {
  if (process.platform !== "linux") return false;
  try {
    const cpuinfo = await readFile("/proc/cpuinfo", "utf8");
    return /^flags\s*:.*\bavx2\b/m.test(cpuinfo);
  } catch {
    return false;
  }
}

/**
 * Fetches the packages' tarballs with `npm pack` (in parallel) and extracts
 * each into `<contextDir>/<pkg.dir>/`, so the Dockerfile copies just the
 * files it needs in one layer.
 */
export async function fetchPackages(
  packages: readonly NpmPackage[],
  contextDir: string,
  image: string,
  onProgress: ProgressSink,
): Promise<void> {
  if (packages.length === 0) return;
  const npm = await findExecutable("npm");
  if (!npm) {
    throw new ImageBuildError(
      `Building ${image} needs npm on PATH to fetch ${packages.map(spec).join(", ")}; install Node.js with npm and retry.`,
    );
  }
  const downloads = await mkdtemp(join(tmpdir(), "isol8-npm-"));
  try {
    await Promise.all(
      packages.map(async (pkg, index) => {
        const dest = join(downloads, String(index));
        await mkdir(dest);
        onProgress?.(`[${image}] npm pack ${spec(pkg)}`);
        const result = await runCommand(
          npm,
          ["pack", "--silent", "--pack-destination", dest, spec(pkg)],
          { cwd: dest, captureStdout: true },
        );
        if (result.code !== 0) {
          throw new ImageBuildError(
            `Building ${image}: \`npm pack ${spec(pkg)}\` failed (${describeExit(result)}): ${lastLines(result.tail) || "no output"}. Check your npm registry settings (npm config get registry).`,
          );
        }
        const tarballs = (await readdir(dest)).filter((name) => name.endsWith(".tgz"));
        if (tarballs.length !== 1 || !tarballs[0]) {
          throw new ImageBuildError(
            `Building ${image}: \`npm pack ${spec(pkg)}\` left ${tarballs.length} tarballs instead of one.`,
          );
        }
        await extractTarball(join(dest, tarballs[0]), join(contextDir, pkg.dir));
        onProgress?.(`[${image}] fetched ${spec(pkg)}`);
      }),
    );
  } finally {
    await rm(downloads, { recursive: true, force: true });
  }
}

function spec(pkg: NpmPackage): string {
  return `${pkg.name}@${pkg.version}`;
}
