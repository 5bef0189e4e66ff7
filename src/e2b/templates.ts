/**
 * E2B templates as isol8 images. `base` (E2B's default) runs isol8's
 * python image, which has bash and python3; each isol8 runtime is a
 * template of its own name; `code-interpreter-v1` (the code interpreter
 * SDK's default) runs isol8:python-data, the python image with
 * matplotlib, NumPy and pandas (`isol8 setup --data-science`). Anything
 * else is a template this server does not have: 404, as E2B answers an
 * unknown template.
 */
import { PYTHON_DATA_IMAGE } from "../images/index.js";
import { RUNTIMES, type Runtime } from "../runtimes/index.js";
import { HttpError } from "../server/errors.js";

/** E2B's default template, and the runtime it maps to. */
export const DEFAULT_TEMPLATE = "base";

/** What a template runs: a runtime, in its own image unless another is named. */
interface Template {
  runtime: Runtime;
  image?: string;
}

const TEMPLATES: Readonly<Record<string, Template>> = {
  [DEFAULT_TEMPLATE]: { runtime: "python" },
  "code-interpreter-v1": { runtime: "python", image: PYTHON_DATA_IMAGE },
  ...Object.fromEntries(RUNTIMES.map((runtime) => [runtime, { runtime }])),
};

/** A template, by name; 404 for a template this server does not have. */
export function template(templateId: string): Template {
  const runtime = Object.hasOwn(TEMPLATES, templateId) ? TEMPLATES[templateId] : undefined;
  if (!runtime)
    throw new HttpError(
      404,
      `templateID: no template ${JSON.stringify(templateId)} on this server (it has ${Object.keys(TEMPLATES).join(", ")})`,
    );
  return runtime;
}
