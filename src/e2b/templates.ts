/**
 * E2B templates as isol8 images. `base` (E2B's default) runs isol8's
 * python image, which has bash and python3; each isol8 runtime is a
 * template of its own name. Anything else is a template this server does
 * not have: 404, as E2B answers an unknown template.
 */
import { RUNTIMES, type Runtime } from "../runtimes/index.js";
import { HttpError } from "../server/errors.js";

/** E2B's default template, and the runtime it maps to. */
export const DEFAULT_TEMPLATE = "base";

const TEMPLATES: Readonly<Record<string, Runtime>> = {
  [DEFAULT_TEMPLATE]: "python",
  ...Object.fromEntries(RUNTIMES.map((runtime) => [runtime, runtime])),
};

/** The runtime of a template, by name; 404 for a template this server does not have. */
export function templateRuntime(templateId: string): Runtime {
  const runtime = Object.hasOwn(TEMPLATES, templateId) ? TEMPLATES[templateId] : undefined;
  if (!runtime)
    throw new HttpError(
      404,
      `templateID: no template ${JSON.stringify(templateId)} on this server (it has ${Object.keys(TEMPLATES).join(", ")})`,
    );
  return runtime;
}
