import type { RemoteIsol8Options } from "../../../client/remote-isol8.js";
import { exitWhenFlushed } from "../../exit.js";
import { CliError } from "../../exit-codes.js";
import { reportError } from "../../report-error.js";
import { remoteErrorForCli, remoteFromFlags } from "../session.js";
import { inFlagTerms, type RunFlags, typedOptions } from "./flags.js";
import { printRun } from "./output.js";
import { runRequest } from "./request.js";

/** Flags that mean something only on this machine, refused with --host. */
const LOCAL_ONLY = [
  "persist",
  "persistent",
  "ociRuntime",
  "seccompProfile",
  "caCert",
  "pipIndexUrl",
  "npmRegistry",
] as const;

/**
 * The engine flags the user typed, as server options; the server's defaults
 * apply to the rest (the local configuration file is not read for them).
 */
function remoteOptions(flags: RunFlags): RemoteIsol8Options {
  for (const name of LOCAL_ONLY) {
    if (flags[name] !== undefined) {
      const flag = `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new CliError(`${flag} is not available with --host`);
    }
  }
  const typed = typedOptions(flags);
  const options: RemoteIsol8Options = {};
  if (typed.network !== undefined) options.network = typed.network;
  const allow = flags.allow ?? [];
  const deny = flags.deny ?? [];
  if (allow.length || deny.length) {
    if (typed.network !== undefined && typed.network !== "filtered")
      throw new CliError(`--allow/--deny: need --net filtered (the network is ${typed.network})`);
    options.network = "filtered";
    options.networkFilter = { whitelist: allow, blacklist: deny };
  }
  if (typed.logNetwork) options.logNetwork = true;
  if (typed.timeoutMs !== undefined) options.timeoutMs = typed.timeoutMs;
  if (typed.memoryLimit !== undefined) options.memoryLimit = typed.memoryLimit;
  if (typed.cpuLimit !== undefined) options.cpuLimit = typed.cpuLimit;
  if (typed.pidsLimit !== undefined) options.pidsLimit = typed.pidsLimit;
  if (typed.sandboxSize !== undefined) options.sandboxSize = typed.sandboxSize;
  if (typed.tmpSize !== undefined) options.tmpSize = typed.tmpSize;
  if (typed.readonlyRootFs !== undefined) options.readonlyRootFs = typed.readonlyRootFs;
  if (typed.maxOutputSize !== undefined) options.maxOutputSize = typed.maxOutputSize;
  if (typed.secrets !== undefined) options.secrets = typed.secrets;
  if (typed.image !== undefined) options.image = typed.image;
  if (typed.security?.seccomp !== undefined) options.security = { seccomp: typed.security.seccomp };
  return options;
}

/** `isol8 run --host`: the same input and output as a local run, executed by an isol8 server. */
export async function runRemote(file: string | undefined, flags: RunFlags): Promise<number> {
  // Ctrl-C closes the connection, and the server kills the run.
  const interrupt = () => void exitWhenFlushed(130);
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  try {
    const options = remoteOptions(flags);
    const request = await runRequest(file, flags);
    const remote = await remoteFromFlags(flags, flags.sessionId, options);
    return await printRun(remote, request, flags);
  } catch (error) {
    return reportError(remoteErrorForCli(inFlagTerms(error)), flags.debug);
  } finally {
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
  }
}
