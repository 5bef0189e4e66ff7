import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type Dockerode from "dockerode";
import { readCertificates, resolveCaFiles, writeCertificates } from "./ca-certificates.js";
import {
  type EnsureOptions,
  type EnsureOutcome,
  ensureImage,
  readShippedFile,
} from "./ensure-image.js";
import { sha256 } from "./inputs-hash.js";
import { BASE_IMAGE, ROOTFS_IMAGE } from "./names.js";
import { supervisorSourcePath } from "./paths.js";

/**
 * Builds isol8:base FROM the Debian rootfs: CA trust (Debian's plus the extra
 * bundles), the `sandbox` user (uid 100, home /sandbox) and the in-container
 * supervisor compiled statically from `sandbox/supervisor.c`.
 */
export async function ensureBaseImage(
  docker: Dockerode,
  caCertificateFiles: string[] | undefined,
  options: EnsureOptions,
): Promise<EnsureOutcome> {
  const supervisorSource = await readShippedFile(supervisorSourcePath());
  const certificates = await readCertificates(await resolveCaFiles(caCertificateFiles));
  return ensureImage(
    docker,
    {
      image: BASE_IMAGE,
      dockerfile: "base.Dockerfile",
      parent: ROOTFS_IMAGE,
      inputs: {
        supervisorSource: sha256(supervisorSource),
        caCertificates: certificates.map((pem) => sha256(pem)),
      },
      prepareContext: async (contextDir) => {
        await writeFile(join(contextDir, "supervisor.c"), supervisorSource);
        await writeCertificates(contextDir, certificates);
      },
      smokeTest: ["sh", "-c", "test -x /usr/local/bin/isol8-supervisor && id -u"],
    },
    options,
  );
}
