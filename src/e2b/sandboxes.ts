/**
 * What the E2B face keeps of its sandboxes beside the server's registry
 * (src/server/sandboxes.ts, which owns them, their tenant and their limits):
 * the template each was made from, its limits as E2B reports them, and the
 * access token its envd requests must carry. Every E2B sandbox gets a
 * token, whatever the request's `secure` says: the sandbox id alone never
 * opens a sandbox's processes or files.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { resolveOptions } from "../engine/options.js";
import type { Sandbox } from "../sandbox/sandbox.js";
import type { ServerContext } from "../server/context.js";
import { HttpError } from "../server/errors.js";
import type { DockerIsol8Options } from "../types.js";

/** One E2B sandbox's own facts. */
export interface E2bSandboxFacts {
  templateId: string;
  accessToken: string;
  cpuCount: number;
  memoryMB: number;
  diskSizeMB: number;
}

export class E2bSandboxes {
  private readonly facts = new Map<string, E2bSandboxFacts>();

  constructor(private readonly ctx: ServerContext) {}

  /** Remembers a sandbox made for the E2B face, with a new access token. */
  adopt(sandbox: Sandbox, templateId: string, engineOptions: DockerIsol8Options): E2bSandboxFacts {
    const resolved = resolveOptions(engineOptions);
    const facts: E2bSandboxFacts = {
      templateId,
      accessToken: randomBytes(24).toString("hex"),
      cpuCount: resolved.cpuLimit,
      memoryMB: Math.round(resolved.memoryBytes / (1024 * 1024)),
      diskSizeMB: Math.round(resolved.sandboxBytes / (1024 * 1024)),
    };
    this.facts.set(sandbox.sandboxId, facts);
    sandbox.onEnded(() => this.facts.delete(sandbox.sandboxId));
    return facts;
  }

  /** The tenant's running E2B sandbox of this id; 404 otherwise (an ended one too, as E2B answers). */
  get(tenantId: string, sandboxId: string): { sandbox: Sandbox; facts: E2bSandboxFacts } {
    const facts = this.facts.get(sandboxId);
    const sandbox = facts ? this.ctx.sandboxes.get(tenantId, sandboxId) : undefined;
    if (!facts || !sandbox || sandbox.state !== "running") throw notFound(sandboxId);
    return { sandbox, facts };
  }

  /** The tenant's running E2B sandboxes. */
  list(tenantId: string): { sandbox: Sandbox; facts: E2bSandboxFacts }[] {
    return this.ctx.sandboxes
      .list(tenantId)
      .filter((info) => info.state === "running" && this.facts.has(info.sandboxId))
      .map((info) => this.get(tenantId, info.sandboxId));
  }

  /**
   * The running sandbox an envd request names, if `token` is its access
   * token: envd requests carry no API key, so the token is what admits
   * them, and a wrong one looks the same as no such sandbox: 502, as E2B's
   * proxy answers for a sandbox it cannot reach (its SDKs then say the
   * sandbox is not running).
   */
  forEnvd(sandboxId: string, token: string | undefined): Sandbox {
    const facts = this.facts.get(sandboxId);
    const sandbox = this.ctx.sandboxes.find(sandboxId);
    const admitted =
      facts !== undefined && token !== undefined && sameToken(facts.accessToken, token);
    if (!admitted || !sandbox || sandbox.state !== "running")
      throw new HttpError(502, `sandbox ${JSON.stringify(sandboxId)} not found, or not running`);
    return sandbox;
  }
}

function sameToken(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function notFound(sandboxId: string): HttpError {
  return new HttpError(404, `sandbox ${JSON.stringify(sandboxId)} not found`);
}
