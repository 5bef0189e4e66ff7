import type { Runtime } from "../runtimes/runtime.js";
import type { PackageLists, PackageRegistries } from "./packages.js";
import type { ImageVariant } from "./variants.js";

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
  /** Packages baked into this runtime image (absent when none). */
  packages?: string[];
}

export interface SetupImagesOptions {
  /** Runtime images to make; default all five. */
  runtimes?: Runtime[];
  /**
   * Optional images to make as well, none by default: `python-data`
   * (isol8:python-data, isol8:python with matplotlib, NumPy and pandas).
   * A variant's runtime image is made too, even when `runtimes` omits it.
   */
  variants?: ImageVariant[];
  /** Rebuild (without the layer cache) even when the inputs hash matches. */
  force?: boolean;
  /** Extra CA bundles trusted in the images; default [SSL_CERT_FILE] when set and readable. */
  caCertificateFiles?: string[];
  /** Human-readable progress lines (build steps, download/bootstrapping progress). */
  onProgress?: (line: string) => void;
  /**
   * Packages to bake into each runtime's image (see PackageLists); they are
   * part of the image's inputs hash, so changing them rebuilds that image only.
   */
  packages?: PackageLists;
  /** Package indexes the baked packages come from; default PyPI and registry.npmjs.org. */
  registries?: PackageRegistries;
  /**
   * Tag to build a runtime's image as instead of `isol8:<runtime>` (tests bake
   * into images of their own, leaving the shared ones alone).
   */
  imageTags?: Partial<Record<Runtime, string>>;
}

export type ProgressSink = ((line: string) => void) | undefined;
