import type { ContextInfo } from "../types.js";

/**
 * The bodies isol8's HTTP API answers with, beyond the engine's own result
 * and event types: what the server sends and what RemoteIsol8 reads are
 * typed by these, so neither side keeps its own copy.
 */

/** A session as GET /sessions lists it. */
export interface SessionInfo {
  id: string;
  /** The tenant it belongs to (the master key lists every tenant's). */
  tenantId: string;
  /** True while an execution or file transfer is using it. */
  isActive: boolean;
  /** ISO 8601. */
  lastAccessedAt: string;
}

/** GET /sessions. */
export interface SessionList {
  sessions: SessionInfo[];
}

/** GET /session/:id/context. */
export interface ContextList {
  contexts: ContextInfo[];
}

/** GET /file: the file's bytes, base64. */
export interface FileContent {
  content: string;
}

/**
 * GET /health: 200 `{ status: "ok", version }` when the server can run code;
 * 503 `degraded` (with `Retry-After`) when the Docker engine does not answer,
 * `error` saying where it was looked for and why it failed.
 */
export interface Health {
  status: "ok" | "degraded";
  version: string;
  /** Only when degraded: the Docker engine does not answer. */
  docker?: "unreachable";
  /** Only when degraded: why, in one line. */
  error?: string;
}

/** Summary of removals, as POST /cleanup reports it. */
export interface RemovalReport {
  removed: number;
  failed: number;
  errors: string[];
}
