import { createHash, randomBytes, randomUUID } from "node:crypto";
import { chmodSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type BetterSqlite3 from "better-sqlite3";
import { loadOptionalDependency } from "../../optional-dependency.js";

/** An API key or login token as listed; never its secret, which is stored only hashed. */
interface ApiKeyInfo {
  id: string;
  name: string;
  /** The first characters of the key, to tell keys apart in a list. */
  keyPrefix: string;
  tenantId: string;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601, or null for a key that does not expire. */
  expiresAt: string | null;
  lastUsedAt: string | null;
  revoked: boolean;
  /** `key` from POST /auth/keys, `token` from POST /auth/login. */
  kind: "key" | "token";
}

/** Why a presented key was not accepted. */
type KeyRefusal = "unknown" | "expired" | "revoked";

interface Row {
  id: string;
  name: string;
  key_prefix: string;
  tenant_id: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked: number;
  kind: "key" | "token";
}

/** SHA-256 of a key: what is stored and looked up, so a stolen database holds no usable key. */
export function hashKey(key: string): Buffer {
  return createHash("sha256").update(key).digest();
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function info(row: Row): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    keyPrefix: row.key_prefix,
    tenantId: row.tenant_id,
    createdAt: new Date(row.created_at).toISOString(),
    expiresAt: iso(row.expires_at),
    lastUsedAt: iso(row.last_used_at),
    revoked: row.revoked === 1,
    kind: row.kind,
  };
}

/** lastUsedAt is written at most this often per key, so that auth is not a disk write per request. */
const LAST_USED_PRECISION_MS = 1000;

/** API keys and login tokens in SQLite, hashed; each belongs to a tenant. */
export class KeyStore {
  /** The statements every authenticated request runs, prepared once rather than per request. */
  private readonly byHash: BetterSqlite3.Statement<[Buffer], Row>;
  private readonly touch: BetterSqlite3.Statement<[number, string]>;

  private constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly now: () => number,
  ) {
    db.pragma("journal_mode = WAL");
    db.exec(`CREATE TABLE IF NOT EXISTS api_keys (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      key_hash BLOB NOT NULL UNIQUE,
      key_prefix TEXT NOT NULL,
      tenant_id TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      expires_at INTEGER,
      last_used_at INTEGER,
      revoked INTEGER NOT NULL DEFAULT 0,
      kind TEXT NOT NULL DEFAULT 'key'
    )`);
    this.byHash = db.prepare<[Buffer], Row>("SELECT * FROM api_keys WHERE key_hash = ?");
    this.touch = db.prepare<[number, string]>("UPDATE api_keys SET last_used_at = ? WHERE id = ?");
  }

  /**
   * Opens (creating) the database at `path`; `:memory:` for a throwaway one.
   * better-sqlite3 is loaded here, not at import, so that the CLI's other
   * commands never load its native module; it is an optional peer
   * dependency (only serving needs it, and it compiles a native module), so
   * without it this throws a `MissingDependencyError` saying how to install it.
   */
  static async open(path: string, now: () => number = Date.now): Promise<KeyStore> {
    const { default: Database } = await loadOptionalDependency({
      name: "better-sqlite3",
      neededBy: "The HTTP server's API key store",
      load: () => import("better-sqlite3"),
    });
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const db = new Database(path);
    if (path !== ":memory:") chmodSync(path, 0o600);
    return new KeyStore(db, now);
  }

  /**
   * Makes a key; the secret is returned once and never stored. Without a
   * `tenantId` the key is a tenant of its own, named by its id, so that keys
   * made without thinking of tenants never see each other's sessions.
   */
  create(input: { name: string; tenantId?: string; ttlMs?: number; kind?: "key" | "token" }): {
    key: string;
    info: ApiKeyInfo;
  } {
    const key = `isol8_${randomBytes(32).toString("base64url")}`;
    const now = this.now();
    const id = randomUUID();
    const row: Row = {
      id,
      name: input.name,
      key_prefix: key.slice(0, 14),
      tenant_id: input.tenantId ?? id,
      created_at: now,
      expires_at: input.ttlMs === undefined ? null : now + input.ttlMs,
      last_used_at: null,
      revoked: 0,
      kind: input.kind ?? "key",
    };
    this.db
      .prepare(
        `INSERT INTO api_keys (id, name, key_hash, key_prefix, tenant_id, created_at, expires_at, revoked, kind)
         VALUES (@id, @name, @hash, @key_prefix, @tenant_id, @created_at, @expires_at, 0, @kind)`,
      )
      .run({ ...row, hash: hashKey(key) });
    return { key, info: info(row) };
  }

  /**
   * The key's record if it is known, unexpired and not revoked. Lookup is by
   * the key's hash, so how long it takes says nothing about the key.
   */
  verify(key: string): { ok: true; info: ApiKeyInfo } | { ok: false; reason: KeyRefusal } {
    const row = this.byHash.get(hashKey(key));
    if (!row) return { ok: false, reason: "unknown" };
    if (row.revoked) return { ok: false, reason: "revoked" };
    const now = this.now();
    if (row.expires_at !== null && row.expires_at <= now) return { ok: false, reason: "expired" };
    if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_PRECISION_MS) {
      this.touch.run(now, row.id);
      row.last_used_at = now;
    }
    return { ok: true, info: info(row) };
  }

  list(tenantId?: string): ApiKeyInfo[] {
    const rows = (
      tenantId === undefined
        ? this.db.prepare("SELECT * FROM api_keys ORDER BY created_at, id").all()
        : this.db
            .prepare("SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id")
            .all(tenantId)
    ) as Row[];
    return rows.map(info);
  }

  /** Keys and tokens of `tenantId` that still work: neither revoked nor expired. */
  usable(tenantId: string): ApiKeyInfo[] {
    const now = this.now();
    return (
      this.db
        .prepare(
          `SELECT * FROM api_keys WHERE tenant_id = ? AND revoked = 0
           AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at, id`,
        )
        .all(tenantId, now) as Row[]
    ).map(info);
  }

  /** Moves a key to another tenant (its secret stays the same); false if there is none with this id. */
  move(id: string, tenantId: string): boolean {
    return (
      this.db.prepare("UPDATE api_keys SET tenant_id = ? WHERE id = ?").run(tenantId, id).changes >
      0
    );
  }

  /** Revokes a key; false if there is none with this id. */
  revoke(id: string): boolean {
    return this.db.prepare("UPDATE api_keys SET revoked = 1 WHERE id = ?").run(id).changes > 0;
  }

  close(): void {
    this.db.close();
  }
}
