import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DockerClient } from "../backend/docker/engine-api/client.js";
import { readCertificates, resolveCaFiles, writeCertificates } from "./ca-certificates.js";
import {
  type EnsureOptions,
  type EnsureOutcome,
  ensureImage,
  readShippedFile,
} from "./ensure-image.js";
import { ImageBuildError, reasonOf } from "./errors.js";
import { sha256 } from "./inputs-hash.js";
import { BASE_IMAGE, ROOTFS_IMAGE } from "./names.js";
import { bootstrapDir, SUPERVISOR_SOURCES, supervisorSourcePath } from "./paths.js";

/**
 * Builds isol8:base FROM the Debian rootfs: CA trust (Debian's plus the extra
 * bundles), the `sandbox` user (uid 100, home /sandbox), the in-container
 * supervisor compiled statically from `sandbox/supervisor.c` and
 * `sandbox/egress-forwarder.c`, and the
 * interpreters' prestart bootstraps from `sandbox/bootstrap/`.
 */
export async function ensureBaseImage(
  docker: DockerClient,
  caCertificateFiles: string[] | undefined,
  options: EnsureOptions,
): Promise<EnsureOutcome> {
  const supervisorSources = await readSupervisorSources();
  const bootstraps = await readBootstraps();
  const certificates = await readCertificates(await resolveCaFiles(caCertificateFiles));
  return ensureImage(
    docker,
    {
      image: BASE_IMAGE,
      dockerfile: "base.Dockerfile",
      parent: ROOTFS_IMAGE,
      inputs: {
        supervisorSources: supervisorSources.map(([name, text]) => [name, sha256(text)]),
        bootstraps: bootstraps.map(([name, text]) => [name, sha256(text)]),
        caCertificates: certificates.map((pem) => sha256(pem)),
      },
      prepareContext: async (contextDir) => {
        for (const [name, text] of supervisorSources) await writeFile(join(contextDir, name), text);
        await mkdir(join(contextDir, "bootstrap"));
        for (const [name, text] of bootstraps) {
          await writeFile(join(contextDir, "bootstrap", name), text);
        }
        await writeCertificates(contextDir, certificates);
      },
      smokeTest: ["sh", "-c", "test -x /usr/local/bin/isol8-supervisor && id -u"],
    },
    options,
  );
}

/** The supervisor's C sources as [name, text], in SUPERVISOR_SOURCES order (so the hash is stable). */
async function readSupervisorSources(): Promise<[string, string][]> {
  const files: [string, string][] = [];
  for (const name of SUPERVISOR_SOURCES)
    files.push([name, await readShippedFile(supervisorSourcePath(name))]);
  return files;
}

/** The files of `sandbox/bootstrap/` as [name, text], sorted by name (so the hash is stable). */
async function readBootstraps(): Promise<[string, string][]> {
  const dir = bootstrapDir();
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (error) {
    throw new ImageBuildError(
      `Cannot read ${dir} (${reasonOf(error)}): isol8's sandbox/ files are missing; reinstall isol8.`,
    );
  }
  const files: [string, string][] = [];
  for (const name of names) files.push([name, await readShippedFile(join(dir, name))]);
  return files;
}
