import type { Runtime } from "../runtimes/runtime.js";

/** The outcome for one image of `setupImages`. */
export interface ImageReport {
  image: string;
  /** Set for runtime images; absent for the Debian rootfs and the base image. */
  runtime?: Runtime;
  status: "built" | "up-to-date";
  sizeBytes: number;
  id: string;
  /** Wall time spent on this image, including the up-to-date check. */
  seconds: number;
}

export interface SetupImagesOptions {
  /** Runtime images to make; default all five. */
  runtimes?: Runtime[];
  /** Rebuild (without the layer cache) even when the inputs hash matches. */
  force?: boolean;
  /** Extra CA bundles trusted in the images; default [SSL_CERT_FILE] when set and readable. */
  caCertificateFiles?: string[];
  /** Human-readable progress lines (build steps, download/bootstrapping progress). */
  onProgress?: (line: string) => void;
}

export type ProgressSink = ((line: string) => void) | undefined;
