import Docker from "dockerode";
import { Isol8Error } from "../../errors.js";

/**
 * Thrown when the Docker engine cannot be reached. Its message is one line a
 * user can act on; the CLI prints it as is.
 */
export class DockerUnavailableError extends Isol8Error {
  override readonly name = "DockerUnavailableError";
  override readonly code = "DOCKER_UNAVAILABLE";
}

/** A dockerode client for the engine named by DOCKER_HOST, or the local socket. */
export function createDockerClient(): Docker {
  // dockerode reads DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH itself.
  return new Docker();
}

function describeEndpoint(): string {
  return process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
}

/** Resolves when the engine answers a ping; otherwise throws DockerUnavailableError. */
export async function assertDockerReachable(docker: Docker): Promise<void> {
  try {
    await docker.ping();
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new DockerUnavailableError(
      `Docker is not reachable at ${describeEndpoint()} (${reason}). Start the Docker engine (see README: scripts/ensure-docker.sh) and retry.`,
    );
  }
}
