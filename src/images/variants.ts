import type { DockerClient } from "../backend/docker/engine-api/client.js";
import type { Runtime } from "../runtimes/runtime.js";
import { type EnsureOptions, type EnsureOutcome, ensureImage } from "./ensure-image.js";
import { runtimeImage } from "./names.js";

/**
 * Optional images `isol8 setup` builds only on request, each FROM a runtime
 * image (so it has the supervisor and the context kernels of isol8:base):
 *
 * - `python-data` (`isol8:python-data`): isol8:python plus Debian's
 *   python3-matplotlib, python3-numpy and python3-pandas, for plots and
 *   tables in code contexts. `isol8 setup --data-science` builds it.
 */
export const IMAGE_VARIANTS = ["python-data"] as const;

export type ImageVariant = (typeof IMAGE_VARIANTS)[number];

/** The data-science variant of isol8:python. */
export const PYTHON_DATA_IMAGE = "isol8:python-data";

interface VariantRecipe {
  image: string;
  runtime: Runtime;
  /** File name in `sandbox/dockerfiles/`. */
  dockerfile: string;
  /** Must exit 0 in the new image as the sandbox user with a read-only root. */
  smokeTest: string[];
}

const VARIANTS: Record<ImageVariant, VariantRecipe> = {
  "python-data": {
    image: PYTHON_DATA_IMAGE,
    runtime: "python",
    dockerfile: "python-data.Dockerfile",
    smokeTest: [
      "python3",
      "-c",
      "import matplotlib, numpy, pandas; print('matplotlib', matplotlib.__version__, 'numpy', numpy.__version__, 'pandas', pandas.__version__)",
    ],
  },
};

/** True for the name of an image variant. */
export function isImageVariant(name: string): name is ImageVariant {
  return (IMAGE_VARIANTS as readonly string[]).includes(name);
}

/** The runtime whose image a variant is built FROM. */
export function variantRuntime(variant: ImageVariant): Runtime {
  return VARIANTS[variant].runtime;
}

/**
 * Builds a variant FROM its runtime's image `isol8:<runtime>` unless an image
 * with the same inputs (its Dockerfile and the parent's id) already has its
 * tag, so a rebuilt runtime image rebuilds its variants too.
 */
export function ensureVariantImage(
  docker: DockerClient,
  variant: ImageVariant,
  options: EnsureOptions,
): Promise<EnsureOutcome> {
  const recipe = VARIANTS[variant];
  return ensureImage(
    docker,
    {
      image: recipe.image,
      runtime: recipe.runtime,
      dockerfile: recipe.dockerfile,
      parent: runtimeImage(recipe.runtime),
      inputs: {},
      smokeTest: recipe.smokeTest,
    },
    options,
  );
}
