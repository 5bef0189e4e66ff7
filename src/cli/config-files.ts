import { describeSources, type LoadedConfig, loadConfig } from "../config/file.js";

const loaded = new Map<string, LoadedConfig>();

/**
 * The configuration files this command uses (`--config FILE` when given),
 * loaded once per process; the first load says on stderr which files were
 * read, so a file nobody meant to use never applies silently.
 */
export function cliConfig(explicit?: string): LoadedConfig {
  const key = explicit ?? "";
  let found = loaded.get(key);
  if (!found) {
    found = loadConfig({ explicit });
    loaded.set(key, found);
    if (found.sources.length)
      process.stderr.write(`isol8: configuration read from ${describeSources(found.sources)}\n`);
  }
  return found;
}

/** The `--config` option's help, the same for every command that reads the file. */
export const CONFIG_FLAG_HELP =
  "configuration file to use instead of ./isol8.config.json (trusted: an explicit choice), over ~/.isol8/config.json";
