import { readFile, stat } from "node:fs/promises";
import { extname } from "node:path";
import { MAX_CODE_BYTES } from "../engine/request.js";
import { urlExtension } from "../remote-code/url.js";
import {
  isRuntime,
  KNOWN_EXTENSIONS,
  notARuntime,
  type Runtime,
  runtimeAdapter,
  runtimeForExtension,
} from "../runtimes/index.js";
import { CliError } from "./exit-codes.js";

/** The program `isol8 run` was asked to run. */
interface CodeInput {
  code: string;
  runtime: Runtime;
  fileExtension?: string;
}

/** Code named by URL (`--url`, `--github`, `--gist`): fetched only once it is the one source. */
export interface RemoteCodeSource {
  /** The flag that named it, for messages. */
  flag: string;
  url: string;
  fetch(): Promise<string>;
}

export interface CodeSources {
  eval?: string;
  file?: string;
  remote?: RemoteCodeSource;
  runtime?: string;
  /** Reads all of standard input; only called when neither eval nor file is given. */
  readStdin: () => Promise<Buffer>;
  stdinIsTerminal: boolean;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function decodeSource(bytes: Buffer, where: string): string {
  if (bytes.length > MAX_CODE_BYTES) {
    throw new CliError(
      `${where} is ${bytes.length} bytes, larger than the limit of ${MAX_CODE_BYTES} bytes`,
    );
  }
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new CliError(`${where} is not valid UTF-8 text`);
  }
}

function forcedRuntime(name: string | undefined): Runtime | undefined {
  if (name === undefined) return undefined;
  if (!isRuntime(name)) throw new CliError(notARuntime("--runtime", name));
  return name;
}

/**
 * Resolves the seed's input order: `--eval`, else a file (runtime from its
 * extension), else standard input. `--eval` and stdin default to python;
 * `--runtime` always wins. A remote source is one more: with it, nothing else.
 */
export async function resolveCodeInput(sources: CodeSources): Promise<CodeInput> {
  const forced = forcedRuntime(sources.runtime);
  if (sources.remote) {
    const others = [
      ...(sources.eval !== undefined ? ["--eval"] : []),
      ...(sources.file !== undefined ? ["a file"] : []),
    ];
    if (others.length)
      throw new CliError(
        `give only one code source, not ${[sources.remote.flag, ...others].join(" and ")}`,
      );
    return readRemoteInput(sources.remote, forced);
  }
  if (sources.eval !== undefined) {
    if (sources.file !== undefined) throw new CliError("give either --eval or a file, not both");
    return { code: sources.eval, runtime: forced ?? "python" };
  }
  if (sources.file !== undefined) return readFileInput(sources.file, forced);
  if (sources.stdinIsTerminal) {
    throw new CliError("no code to run: give --eval CODE, a file, or pipe code on standard input");
  }
  const code = decodeSource(await sources.readStdin(), "standard input");
  if (code.trim() === "") throw new CliError("no code to run: standard input was empty");
  return { code, runtime: forced ?? "python" };
}

async function readFileInput(file: string, forced: Runtime | undefined): Promise<CodeInput> {
  const extension = extname(file).toLowerCase();
  const runtime = forced ?? runtimeForExtension(extension);
  if (!runtime) {
    throw new CliError(
      `cannot tell the runtime of ${file} from its extension "${extension}" (known: ${KNOWN_EXTENSIONS.join(" ")}); use --runtime`,
    );
  }
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch {
    throw new CliError(`file not found: ${file}`);
  }
  if (!info.isFile()) throw new CliError(`not a file: ${file}`);
  if (info.size > MAX_CODE_BYTES) {
    throw new CliError(
      `${file} is ${info.size} bytes, larger than the limit of ${MAX_CODE_BYTES} bytes`,
    );
  }
  const code = decodeSource(await readFile(file), file);
  const keepExtension = runtimeAdapter(runtime).extensions.includes(extension);
  return keepExtension ? { code, runtime, fileExtension: extension } : { code, runtime };
}

async function readRemoteInput(
  remote: RemoteCodeSource,
  forced: Runtime | undefined,
): Promise<CodeInput> {
  const extension = urlExtension(remote.url);
  const runtime = forced ?? runtimeForExtension(extension);
  if (!runtime) {
    throw new CliError(
      `${remote.flag}: cannot tell the runtime of ${remote.url} from its extension "${extension}" (known: ${KNOWN_EXTENSIONS.join(" ")}); use --runtime`,
    );
  }
  const code = await remote.fetch();
  const keepExtension = runtimeAdapter(runtime).extensions.includes(extension);
  return keepExtension ? { code, runtime, fileExtension: extension } : { code, runtime };
}
