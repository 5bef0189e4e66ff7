/**
 * Image building for `isol8 setup`: the Debian rootfs, isol8:base and one
 * image per runtime, each rebuilt only when what it is built from changed.
 */
export { ImageBuildError } from "./errors.js";
export { BASE_IMAGE, runtimeImage } from "./names.js";
export { setupImages } from "./setup.js";
export type { ImageReport, SetupImagesOptions } from "./types.js";
