/**
 * Image building for `isol8 setup`: the Debian rootfs, isol8:base and one
 * image per runtime, each rebuilt only when what it is built from changed;
 * and for `isol8 build`: custom images FROM a runtime image with packages
 * and setup commands.
 */
export {
  buildCustomImage,
  CUSTOM_IMAGE_REPOSITORY,
  type CustomImageReport,
  type CustomImageRequest,
  checkCustomImageRequest,
  checkImageTag,
} from "./custom-image.js";
export { ImageBuildError, ImageInputError } from "./errors.js";
export { BASE_IMAGE, runtimeImage } from "./names.js";
export {
  checkRegistryUrl,
  normalizePackages,
  type PackageLists,
  type PackageRegistries,
  splitPackageList,
} from "./packages.js";
export { setupImages } from "./setup.js";
export type { ImageReport, SetupImagesOptions } from "./types.js";
export {
  IMAGE_VARIANTS,
  type ImageVariant,
  isImageVariant,
  PYTHON_DATA_IMAGE,
} from "./variants.js";
