import { Isol8Error } from "../../errors.js";
import { DockerClient } from "./engine-api/client.js";
import { type DockerEnvironment, describeEndpoint, engineEndpoint } from "./engine-api/endpoint.js";
import { EngineTransport } from "./engine-api/transport.js";

/**
 * Thrown when the Docker engine cannot be reached. Its message is one line a
 * user can act on; the CLI prints it as is.
 */
export class DockerUnavailableError extends Isol8Error {
  override readonly name = "DockerUnavailableError";
  override readonly code = "DOCKER_UNAVAILABLE";
}

/**
 * A client for the Docker engine `env` names the way the Docker CLI reads
 * it (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH; default: this
 * process's environment), or the local socket. A DOCKER_HOST isol8 cannot
 * use, or TLS files it cannot read, are a DockerUnavailableError.
 *
 * @example new DockerBackend(createDockerClient({ DOCKER_HOST: "tcp://10.0.0.5:2376", DOCKER_TLS_VERIFY: "1" }))
 */
export function createDockerClient(env: DockerEnvironment = process.env): DockerClient {
  try {
    return new DockerClient(new EngineTransport(engineEndpoint(env)));
  } catch (error) {
    throw new DockerUnavailableError(`Docker cannot be used: ${firstLine(error)}`);
  }
}

function firstLine(error: unknown): string {
  return error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
}

/** Resolves when the engine answers a ping; otherwise throws DockerUnavailableError. */
export async function assertDockerReachable(docker: DockerClient): Promise<void> {
  try {
    await docker.ping();
  } catch (error) {
    throw new DockerUnavailableError(
      `Docker is not reachable at ${describeEndpoint(docker.endpoint)} (${firstLine(error)}). Start the Docker engine (see README: scripts/ensure-docker.sh) and retry.`,
    );
  }
}
