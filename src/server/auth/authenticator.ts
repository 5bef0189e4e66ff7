import { timingSafeEqual } from "node:crypto";
import { hashKey, type KeyStore } from "./key-store.js";

/** Who is calling: the tenant whose sessions it may use, and whether it holds the master key. */
export interface Principal {
  tenantId: string;
  /** The master key: besides its own tenant's, it lists and deletes every tenant's sessions. */
  master: boolean;
  /** The API key's id; none for the master key. */
  keyId?: string;
}

/**
 * The master key's own tenant (its sessions). Keys and tokens made before
 * each got a tenant of its own were put here too; they still work, and the
 * server names them at start so that an operator can move them.
 */
export const DEFAULT_TENANT = "default";

type AuthOutcome =
  | { ok: true; principal: Principal }
  | { ok: false; status: 401 | 403; error: string };

/**
 * Checks `Authorization: Bearer <key>` against the master key (compared in
 * constant time, as SHA-256 digests of equal length) and the key store.
 */
export class Authenticator {
  private readonly masterDigest: Buffer | undefined;

  /** `masterKey` undefined means no auth at all (`--insecure-no-auth`): every caller is master. */
  constructor(
    masterKey: string | undefined,
    private readonly store: KeyStore,
  ) {
    this.masterDigest = masterKey === undefined ? undefined : hashKey(masterKey);
  }

  get insecure(): boolean {
    return this.masterDigest === undefined;
  }

  authenticate(header: string | undefined): AuthOutcome {
    if (!this.masterDigest)
      return { ok: true, principal: { tenantId: DEFAULT_TENANT, master: true } };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
    if (!match?.[1]) {
      return {
        ok: false,
        status: 401,
        error: "authorization required: send Authorization: Bearer <key>",
      };
    }
    const key = match[1];
    if (timingSafeEqual(hashKey(key), this.masterDigest))
      return { ok: true, principal: { tenantId: DEFAULT_TENANT, master: true } };
    const found = this.store.verify(key);
    if (!found.ok) {
      const why = {
        unknown: "invalid API key",
        expired: "API key expired",
        revoked: "API key revoked",
      };
      return { ok: false, status: 403, error: why[found.reason] };
    }
    return {
      ok: true,
      principal: { tenantId: found.info.tenantId, master: false, keyId: found.info.id },
    };
  }
}
