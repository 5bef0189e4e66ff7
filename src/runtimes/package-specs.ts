/**
 * The one rule for package specs and registry URLs, wherever packages are
 * installed: before a run (a request's `installPackages`, checked by
 * `src/engine/request.ts`; the engine option `registries`, by
 * `src/engine/options.ts`) and into an image (`isol8 setup --python ...`,
 * `isol8 build --install`, `--pip-index-url`, checked by
 * `src/images/packages.ts`). It lives here, next to the runtimes, because it
 * is a fact about each runtime's installer that both the engine and the image
 * builder depend on; keeping it in one place means the two can never again
 * disagree on what a package name is.
 *
 * The functions are pure and return a problem (a phrase that follows the
 * quoted value: `starts with '-' ...`) or undefined; each caller wraps it in
 * its own error type and field name. What only one caller needs (bash has no
 * run-time installer, images bake only deno's `npm:` packages, image flags
 * are trimmed) stays with that caller.
 *
 * Security: specs reach the installers as separate argv entries, never
 * through a shell, and a spec must never be readable as an installer option:
 * it may not start with `-` (bun's `add` has no `--` to end its options), and
 * a pip spec, which may hold spaces (`numpy >= 1.0`), may not hold a word
 * starting with `-` either (a requirements line reads `--index-url` there).
 */
import type { Runtime } from "./runtime.js";

/** The longest package spec accepted (characters). */
export const MAX_PACKAGE_SPEC_LENGTH = 1000;

// biome-ignore lint/suspicious/noControlCharactersInRegex: refuses control characters
const CONTROL = /[\u0000-\u001f\u007f]/;
/** A Debian package name, optionally with `=version` or `/release`. */
const DEBIAN_PACKAGE = /^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+~:-]+|\/[a-z0-9-]+)?$/;
/** A URL scheme such as `npm:`, `jsr:` or `https:`. */
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/** The lower-cased scheme (`npm:`, `jsr:`, `https:`) a deno spec starts with, if any. */
export function denoScheme(spec: string): string | undefined {
  return SCHEME.exec(spec)?.[0].toLowerCase();
}

/**
 * What is wrong with `spec` as a package for `runtime`'s installer, or
 * undefined when nothing is. Per runtime, a spec is:
 *
 * - python: a pip requirement specifier (`numpy>=1.0,<2`, `requests[socks]`,
 *   `numpy >= 1.0`);
 * - node, bun: an npm package spec (`left-pad@1.3.0`, `@scope/name`);
 * - deno: an `npm:` or `jsr:` specifier, or a bare npm name (`npm:NAME`);
 * - bash: a Debian package name (`jq`, `jq=1.6-2.1`, `jq/bookworm-backports`).
 *
 * Refused for every runtime: an empty spec, control characters, more than
 * MAX_PACKAGE_SPEC_LENGTH characters, a leading `-`, white space at either
 * end; white space anywhere except in a pip spec.
 */
export function packageSpecProblem(runtime: Runtime, spec: string): string | undefined {
  if (spec.length === 0) return "is an empty package name";
  if (CONTROL.test(spec)) return "contains control characters";
  if (spec.length > MAX_PACKAGE_SPEC_LENGTH)
    return `is longer than ${MAX_PACKAGE_SPEC_LENGTH} characters`;
  if (spec.startsWith("-"))
    return "starts with '-' and would be read as an installer option; give package names only";
  if (runtime !== "python" && /\s/.test(spec)) return "contains white space";
  if (spec !== spec.trim()) return "starts or ends with white space";
  if (runtime === "python" && /\s-/.test(spec))
    return "has a word starting with '-', which would be read as an installer option";
  if (runtime === "bash" && !DEBIAN_PACKAGE.test(spec))
    return "is not a Debian package name (such as jq, jq=1.6-2.1 or jq/bookworm-backports)";
  if (runtime === "deno") {
    const scheme = denoScheme(spec);
    if (scheme === undefined) return undefined;
    if (scheme !== "npm:" && scheme !== "jsr:")
      return `uses the scheme ${scheme}; deno installs npm: and jsr: specifiers, and a bare name as npm:NAME`;
    const name = spec.slice(scheme.length);
    if (name.length === 0 || name.startsWith("-")) return `names no ${scheme} package`;
  }
  return undefined;
}

/** A deno spec as its installer takes it: the scheme lower-cased, a bare name as `npm:NAME`. */
export function denoSpecifier(spec: string): string {
  const scheme = denoScheme(spec);
  return scheme === undefined ? `npm:${spec}` : `${scheme}${spec.slice(scheme.length)}`;
}

/**
 * What is wrong with `url` as a package registry (a PEP 503 index for pip,
 * an npm registry for node, bun and deno), or undefined when nothing is: it
 * must parse as an http or https URL, and hold no white space or control
 * characters (the URL parser would drop some of them, while the installer is
 * given the text as it is).
 */
export function registryUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "is not a URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    return "is not an http or https URL";
  if (CONTROL.test(url) || /\s/.test(url)) return "contains white space or control characters";
  return undefined;
}
