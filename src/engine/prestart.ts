import type { RuntimeAdapter } from "../runtimes/index.js";
import { BASE_ENV, SANDBOX_DIR } from "../sandbox-layout.js";
import type { PrestartSpec } from "./protocol.js";

/**
 * Variables any interpreter reads while it starts: the PATH lookup of
 * argv[0], home-relative start-up files, the locale, the dynamic loader and
 * the C library's allocator.
 */
const STARTUP_ENV = /^(PATH|HOME|LANG|LANGUAGE|LC_\w+|LD_\w+|GLIBC_TUNABLES|MALLOC_\w+)$/;

/**
 * The interpreter the supervisor keeps started for this runtime while a
 * container is idle: the runtime's bootstrap with the fixed part of every
 * run's environment, `engineEnv` included (the engine's network variables;
 * never a request's variables or secrets).
 */
export function prestartSpec(
  adapter: RuntimeAdapter,
  engineEnv: Record<string, string> = {},
): PrestartSpec | undefined {
  if (!adapter.prestart) return undefined;
  return {
    argv: [...adapter.prestart.argv],
    env: { ...BASE_ENV, ...adapter.env, ...engineEnv },
    workdir: SANDBOX_DIR,
  };
}

/**
 * Whether a run with environment `env` may go to the prestarted interpreter:
 * only when `env` agrees with the bootstrap's on every variable the
 * interpreter reads at start-up (anything else it reads later, from the
 * replaced environment, as a fresh interpreter would).
 */
export function mayUsePrestart(
  adapter: RuntimeAdapter,
  env: Record<string, string>,
  engineEnv: Record<string, string> = {},
): boolean {
  const spec = prestartSpec(adapter, engineEnv);
  if (!spec || !adapter.prestart) return false;
  const startupEnv = adapter.prestart.startupEnv;
  const value = (vars: Record<string, string>, name: string) =>
    Object.hasOwn(vars, name) ? vars[name] : undefined;
  for (const name of new Set([...Object.keys(env), ...Object.keys(spec.env)])) {
    if (!STARTUP_ENV.test(name) && !startupEnv.test(name)) continue;
    if (value(env, name) !== value(spec.env, name)) return false;
  }
  return true;
}
