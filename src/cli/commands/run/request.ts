import { readFile, stat } from "node:fs/promises";
import { text } from "node:stream/consumers";
import type { ExecutionRequest } from "../../../types.js";
import { resolveCodeInput } from "../../code-input.js";
import { CliError } from "../../exit-codes.js";
import { readFilesDir } from "../../files-dir.js";
import { remoteCodeSource } from "../../remote-code.js";
import type { RunFlags } from "./flags.js";

/** `--setup` values, in order, as one bash script: a value naming a file stands for its contents. */
async function setupScript(values: string[] | undefined): Promise<string | undefined> {
  if (!values?.length) return undefined;
  const parts = await Promise.all(
    values.map(async (value) => {
      const info = await stat(value).catch(() => undefined);
      return info?.isFile() ? readFile(value, "utf8") : value;
    }),
  );
  // Each part must succeed for the next to run, as if they were one script with `set -e`.
  return parts.map((part) => `(\n${part}\n) || exit $?`).join("\n");
}

/**
 * What `isol8 run` asks to execute, the same locally and with --host: the
 * code (--eval, a file, a URL or stdin) or --cmd, and what comes with it
 * (--stdin, --workdir, --files, --setup, --install).
 */
export async function runRequest(
  file: string | undefined,
  flags: RunFlags,
): Promise<ExecutionRequest> {
  const setup = await setupScript(flags.setup);
  const dir = flags.files === undefined ? undefined : await readFilesDir(flags.files);
  const base = {
    stdin: flags.stdin,
    ...(flags.workdir !== undefined ? { workdir: flags.workdir } : {}),
    ...(dir && Object.keys(dir.files).length ? { files: dir.files } : {}),
    ...(dir && Object.keys(dir.filesBase64).length ? { filesBase64: dir.filesBase64 } : {}),
    ...(setup ? { setupScript: setup } : {}),
    ...(flags.install?.length ? { installPackages: flags.install } : {}),
  };
  const remote = remoteCodeSource(flags);
  if (flags.cmd !== undefined) {
    if (flags.eval !== undefined || file !== undefined || remote)
      throw new CliError("give --cmd alone, without --eval, a file, --url, --github or --gist");
    const runtime = flags.runtime ?? "bash";
    return { ...base, runtime: runtime as ExecutionRequest["runtime"], cmd: flags.cmd };
  }
  const input = await resolveCodeInput({
    eval: flags.eval,
    file,
    remote,
    runtime: flags.runtime,
    readStdin: async () => Buffer.from(await text(process.stdin), "utf8"),
    stdinIsTerminal: process.stdin.isTTY === true,
  });
  return { ...base, ...input };
}
