import { constants } from "node:fs";
import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ImageBuildError, reasonOf } from "./errors.js";

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

/**
 * The CA bundles to trust in the images: the caller's list, or by default the
 * host's SSL_CERT_FILE when it is set and readable (so a TLS-intercepting
 * proxy's CA trusted on the host is trusted in sandboxes too).
 */
export async function resolveCaFiles(explicit: string[] | undefined): Promise<string[]> {
  if (explicit) return explicit;
  const fromEnv = process.env.SSL_CERT_FILE;
  if (!fromEnv) return [];
  try {
    await access(fromEnv, constants.R_OK);
    return [fromEnv];
  } catch {
    return [];
  }
}

/**
 * Every certificate in the bundles, one PEM string each, normalised (64-column
 * base64, LF line ends) and without duplicates. A bundle that cannot be read
 * or holds no PEM certificate is an error: it was asked for explicitly or was
 * readable a moment ago.
 */
export async function readCertificates(files: readonly string[]): Promise<string[]> {
  const seen = new Set<string>();
  const certificates: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "latin1");
    } catch (error) {
      throw new ImageBuildError(`Cannot read CA bundle ${file}: ${reasonOf(error)}`);
    }
    let found = 0;
    for (const match of text.matchAll(PEM_BLOCK)) {
      const body = (match[1] ?? "").replace(/[^A-Za-z0-9+/=]/g, "");
      if (body.length === 0) continue;
      found += 1;
      if (seen.has(body)) continue;
      seen.add(body);
      const wrapped = body.match(/.{1,64}/g)?.join("\n") ?? body;
      certificates.push(`-----BEGIN CERTIFICATE-----\n${wrapped}\n-----END CERTIFICATE-----\n`);
    }
    if (found === 0) {
      throw new ImageBuildError(
        `CA bundle ${file} holds no PEM certificate ("-----BEGIN CERTIFICATE-----"); convert it to PEM or leave it out.`,
      );
    }
  }
  return certificates;
}

/**
 * Writes the certificates into `<contextDir>/certs/` one per file
 * (`isol8-extra-N.crt`): the trust store tools (update-ca-certificates,
 * `openssl rehash`) handle exactly one certificate per file.
 */
export async function writeCertificates(
  contextDir: string,
  certificates: readonly string[],
): Promise<void> {
  const dir = join(contextDir, "certs");
  await mkdir(dir, { recursive: true });
  // A placeholder keeps the directory non-empty for COPY when there are no certificates.
  await writeFile(join(dir, "README"), "Extra CA certificates trusted in isol8 images.\n");
  await Promise.all(
    certificates.map((pem, index) => writeFile(join(dir, `isol8-extra-${index + 1}.crt`), pem)),
  );
}
