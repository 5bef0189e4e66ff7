import { homedir } from "node:os";
import { join } from "node:path";

/** The unix socket a local Docker engine listens on when DOCKER_HOST names none. */
export const DEFAULT_SOCKET = "/var/run/docker.sock";
/** Docker Desktop's named pipe on Windows. */
const DEFAULT_PIPE = "//./pipe/docker_engine";

/** Where the Docker engine is: a socket (unix, or a Windows named pipe) on this machine, or a TCP address. */
export type EngineEndpoint =
  | { kind: "socket"; path: string }
  | { kind: "tcp"; host: string; port: number; tls: TlsFiles | undefined };

/**
 * The client certificate, key and CA (PEM files) of a TLS connection. The
 * engine's certificate is always checked against the CA: an engine answering
 * unverified could be anyone on the path, and whoever it is receives the
 * code, files and secrets of every run and commands root on that host.
 */
interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** The environment variables the Docker CLI reads to find its engine. */
export interface DockerEnvironment {
  DOCKER_HOST?: string | undefined;
  DOCKER_TLS_VERIFY?: string | undefined;
  DOCKER_CERT_PATH?: string | undefined;
}

/**
 * The engine named by DOCKER_HOST, read as the Docker CLI reads it: unset is
 * the local socket; `unix://PATH` and `npipe://PATH` are sockets; `tcp://`,
 * `http://` and `https://` are TCP, over TLS for `https://`, port 2376 or
 * when DOCKER_TLS_VERIFY or DOCKER_CERT_PATH is set (certificates from
 * DOCKER_CERT_PATH, default `~/.docker`; DOCKER_CERT_PATH alone turns TLS
 * on, as Docker's Go SDK and docker-py have it, where the Docker CLI only
 * reads certificates from it). Unlike the Docker CLI's `--tls`,
 * TLS here always checks the engine's certificate against `ca.pem`, whether
 * or not DOCKER_TLS_VERIFY is set: there is no unverified mode. Throws for
 * anything else, `ssh://` included.
 */
export function engineEndpoint(
  env: DockerEnvironment,
  platform: NodeJS.Platform = process.platform,
): EngineEndpoint {
  const host = env.DOCKER_HOST?.trim();
  if (!host) return { kind: "socket", path: platform === "win32" ? DEFAULT_PIPE : DEFAULT_SOCKET };
  const scheme = /^([a-z]+):\/\//i.exec(host)?.[1]?.toLowerCase();
  if (scheme === "unix" || scheme === "npipe") {
    const path = host.slice(scheme.length + "://".length);
    if (!path) throw new Error(`DOCKER_HOST ${host} names no socket`);
    return { kind: "socket", path };
  }
  if (scheme === "ssh")
    throw new Error(
      `DOCKER_HOST ${host}: isol8 does not speak ssh; forward the engine's socket (ssh -L /tmp/docker.sock:/var/run/docker.sock HOST) and set DOCKER_HOST=unix:///tmp/docker.sock`,
    );
  if (scheme !== undefined && scheme !== "tcp" && scheme !== "http" && scheme !== "https")
    throw new Error(`DOCKER_HOST ${host}: unsupported scheme ${scheme}://`);
  let url: URL;
  try {
    url = new URL(scheme === undefined ? `tcp://${host}` : host);
  } catch {
    throw new Error(`DOCKER_HOST ${host} is not a valid address`);
  }
  if (!url.hostname) throw new Error(`DOCKER_HOST ${host} names no host`);
  const useTls =
    scheme === "https" ||
    url.port === "2376" ||
    isSet(env.DOCKER_TLS_VERIFY) ||
    isSet(env.DOCKER_CERT_PATH);
  const port = url.port ? Number(url.port) : useTls ? 2376 : 2375;
  const certDir = env.DOCKER_CERT_PATH || join(homedir(), ".docker");
  return {
    kind: "tcp",
    // An IPv6 literal keeps its brackets in a URL, not in a connect call.
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    tls: useTls
      ? {
          ca: join(certDir, "ca.pem"),
          cert: join(certDir, "cert.pem"),
          key: join(certDir, "key.pem"),
        }
      : undefined,
  };
}

/** The Docker CLI's reading of a flag variable: set unless empty (DOCKER_TLS_VERIFY=0 also counts as unset here). */
function isSet(value: string | undefined): boolean {
  return value !== undefined && value !== "" && value !== "0";
}

/** The endpoint as a DOCKER_HOST value, for messages. */
export function describeEndpoint(endpoint: EngineEndpoint): string {
  if (endpoint.kind === "socket")
    return endpoint.path.startsWith("//") ? `npipe://${endpoint.path}` : `unix://${endpoint.path}`;
  const host = endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host;
  return `${endpoint.tls ? "https" : "tcp"}://${host}:${endpoint.port}`;
}
