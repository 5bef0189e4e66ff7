import type { DockerClient } from "../backend/docker/engine-api/client.js";
import { runtimeAdapter } from "../runtimes/index.js";
import type { Runtime } from "../runtimes/runtime.js";
import { SANDBOX_DIR, SANDBOX_GID, SANDBOX_SEED_DIR, SANDBOX_UID } from "../sandbox-layout.js";
import { ensureImage } from "./ensure-image.js";
import { type BuildStepError, ImageBuildError, ImageInputError, lastLines } from "./errors.js";
import { inspectImage, removeUntagged } from "./image-state.js";
import { inputsHash } from "./inputs-hash.js";
import { runtimeImage } from "./names.js";
import {
  execFormArgv,
  explainInstallFailure,
  installStep,
  normalizePackages,
  type PackageRegistries,
  relevantRegistries,
} from "./packages.js";

/** Repository of the images `isol8 build` tags by the hash of their inputs. */
export const CUSTOM_IMAGE_REPOSITORY = "isol8-custom";

/** What `isol8 build` makes: an image FROM isol8:<runtime> with packages and setup commands. */
export interface CustomImageRequest {
  runtime: Runtime;
  /** Installed like baked packages (see PackageLists): pip, npm, bun, deno `npm:` or apt-get. */
  packages?: readonly string[];
  /**
   * Commands run at build time after the packages, in order, each as its own
   * build step (`bash -c COMMAND`, as root, in /, with the build's network);
   * one exiting non-zero stops the build.
   */
  setup?: readonly string[];
  /** Tag of the image; default `isol8-custom:<first 16 hex of the inputs hash>`. */
  tag?: string;
  registries?: PackageRegistries;
  /** Rebuild (without the layer cache) even when an image with the same inputs exists. */
  force?: boolean;
  onProgress?: ((line: string) => void) | undefined;
}

export interface CustomImageReport {
  image: string;
  runtime: Runtime;
  /** "up-to-date": an image built from the same inputs already had the tag; nothing was built. */
  status: "built" | "up-to-date";
  sizeBytes: number;
  id: string;
  seconds: number;
  /** The packages as installed (deno's bare names with `npm:`). */
  packages: string[];
}

/**
 * The build's last step when it ran setup commands: what they left in
 * /sandbox is copied, owned by the sandbox user, to where the supervisor puts
 * it back into every fresh /sandbox (the /sandbox tmpfs hides the image's).
 * The supervisor copies it as that user, who cannot read a file or list a
 * folder its owner may not: such an entry would make every run of the image
 * fail, so the build fails instead, naming it.
 */
const KEEP_SANDBOX_FILES = [
  "set -eu",
  `if [ -n "$(ls -A ${SANDBOX_DIR})" ]; then`,
  `  mkdir -p ${SANDBOX_SEED_DIR}`,
  `  cp -a ${SANDBOX_DIR}/. ${SANDBOX_SEED_DIR}/`,
  `  chown -R -h ${SANDBOX_UID}:${SANDBOX_GID} ${SANDBOX_SEED_DIR}`,
  `  closed=$(find ${SANDBOX_SEED_DIR} \\( -type f ! -perm -u=r \\) -o \\( -type d ! -perm -u=rx \\) | head -n 3)`,
  `  if [ -n "$closed" ]; then`,
  `    echo "${SANDBOX_DIR} holds what its owner cannot read (files need u+r, folders u+rx), so it cannot be copied into a fresh sandbox: $(echo "$closed" | sed "s|^${SANDBOX_SEED_DIR}|${SANDBOX_DIR}|" | tr '\\n' ' ')" >&2`,
  "    exit 1",
  "  fi",
  "fi",
].join("\n");

/** `isol8-setup-N`: `$0` of the Nth setup command's step. */
const SETUP_MARKER = /^isol8-setup-(\d+)$/;

/** Name components of an image reference, as Docker accepts them. */
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/**
 * Checks an image tag (`name[:tag]`, the name optionally with a registry
 * host); returns it with `:latest` when it names no tag. isol8's own
 * `isol8:*` images are refused: `isol8 setup` manages them.
 */
export function checkImageTag(reference: string): string {
  const refuse = (why: string): never => {
    throw new ImageInputError(`tag "${reference}": ${why}`);
  };
  if (reference.length === 0) refuse("empty");
  if (reference.includes("@")) refuse("a digest cannot be given as a tag");
  const slash = reference.lastIndexOf("/");
  const colon = reference.lastIndexOf(":");
  const hasTag = colon > slash;
  const name = hasTag ? reference.slice(0, colon) : reference;
  const tag = hasTag ? reference.slice(colon + 1) : "latest";
  if (name.length > 255) refuse("the name is longer than 255 characters");
  const parts = name.split("/");
  const first = parts[0] ?? "";
  const hasDomain = parts.length > 1 && (/[.:]/.test(first) || first === "localhost");
  if (hasDomain && !DOMAIN.test(first)) refuse(`"${first}" is not a registry host`);
  for (const part of hasDomain ? parts.slice(1) : parts) {
    if (!PATH_COMPONENT.test(part)) {
      refuse(
        `"${part}" is not a valid image name part (lowercase letters, digits and . _ - inside)`,
      );
    }
  }
  if (!TAG.test(tag)) refuse(`"${tag}" is not a valid tag (letters, digits, _ . -; at most 128)`);
  if (name === "isol8") refuse("isol8:* images are managed by `isol8 setup`; choose another name");
  return `${name}:${tag}`;
}

/** Checks setup commands (non-empty, no NUL); returns them as given. */
function checkSetupCommands(commands: readonly string[]): string[] {
  return commands.map((command, index) => {
    if (command.trim().length === 0) {
      throw new ImageInputError(`setup command ${index + 1} is empty`);
    }
    if (command.includes("\0")) {
      throw new ImageInputError(`setup command ${index + 1} contains a NUL character`);
    }
    return command;
  });
}

/**
 * Validates a custom image request without touching Docker; returns it
 * normalized. Throws ImageInputError for bad package names, setup commands,
 * tag or index URLs, or a request with nothing to add.
 */
export function checkCustomImageRequest(request: CustomImageRequest): {
  packages: string[];
  setup: string[];
  tag: string | undefined;
  registries: PackageRegistries;
} {
  const packages = normalizePackages(request.runtime, request.packages ?? []);
  const setup = checkSetupCommands(request.setup ?? []);
  if (packages.length === 0 && setup.length === 0) {
    throw new ImageInputError("nothing to build: give packages to install or setup commands");
  }
  const tag = request.tag === undefined ? undefined : checkImageTag(request.tag);
  const registries = relevantRegistries(request.runtime, request.registries);
  return { packages, setup, tag, registries };
}

/**
 * Builds an image FROM isol8:<runtime> with packages installed (as `isol8
 * setup` bakes them) and setup commands run, labelled isol8.managed,
 * isol8.runtime and the inputs hash. An image with the same tag and inputs
 * is reused ("up-to-date") unless `force`. Run it with `isol8 run --image`.
 */
export async function buildCustomImage(
  docker: DockerClient,
  request: CustomImageRequest,
): Promise<CustomImageReport> {
  const { runtime } = request;
  const { packages, setup, tag, registries } = checkCustomImageRequest(request);
  const parentName = runtimeImage(runtime);
  const parent = await inspectImage(docker, parentName);
  if (!parent) {
    throw new ImageBuildError(
      `${parentName} does not exist: run \`isol8 setup --runtime ${runtime}\` first`,
    );
  }
  const inputs = { parentId: parent.id, runtime, packages, setup, registries };
  const image = tag ?? `${CUSTOM_IMAGE_REPOSITORY}:${inputsHash(inputs).slice(0, 16)}`;

  const step = packages.length > 0 ? installStep(runtime, packages, registries) : undefined;
  const lines = [
    `# isol8 build: ${runtime} with packages and setup commands (generated).`,
    `FROM ${parent.id}`,
    "ARG DEBIAN_FRONTEND=noninteractive",
  ];
  if (step) lines.push(step.dockerfile.trimEnd());
  setup.forEach((command, index) => {
    lines.push(`RUN ${JSON.stringify(["/bin/bash", "-c", command, `isol8-setup-${index + 1}`])}`);
  });
  if (setup.length > 0)
    lines.push(`RUN ${JSON.stringify(["/bin/bash", "-c", KEEP_SANDBOX_FILES])}`);

  const outcome = await ensureImage(
    docker,
    {
      image,
      runtime,
      dockerfile: { text: `${lines.join("\n")}\n` },
      parent: parent.id,
      inputs,
      smokeTest: [...runtimeAdapter(runtime).image.versionCommand],
      buildArgs: step?.buildArgs ?? {},
      networkMode: "host",
      explainFailure: (error) =>
        explainInstallFailure(error, image) ?? explainSetupFailure(error, setup),
    },
    { force: request.force ?? false, onProgress: request.onProgress },
  );
  if (outcome.supersededId) await removeUntagged(docker, [outcome.supersededId]);
  const { report } = outcome;
  return {
    image,
    runtime,
    status: report.status,
    sizeBytes: report.sizeBytes,
    id: report.id,
    seconds: report.seconds,
    packages,
  };
}

/** "setup command 2 (`make`) failed (exit code 2): <its last output line>". */
function explainSetupFailure(error: BuildStepError, setup: readonly string[]): string | undefined {
  const index = Number(SETUP_MARKER.exec(execFormArgv(error.step)?.[3] ?? "")?.[1] ?? 0);
  const command = setup[index - 1];
  if (command === undefined) return undefined;
  const code = /non-zero code: (\d+)/.exec(error.failure)?.[1];
  const shown = command.length > 60 ? `${command.slice(0, 57)}...` : command;
  const last = lastLines(error.output, 1);
  return `setup command ${index} (\`${shown.replace(/\s+/g, " ")}\`) failed${code ? ` (exit code ${code})` : ""}${last ? `: ${last}` : ""}`;
}
