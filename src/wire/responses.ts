import type { ContextInfo, StreamEvent } from "../types.js";

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

/**
 * Every refusal or failure: `error` is one line for people; `code`, when
 * there is one, is the `code` of the library error class a local engine
 * throws for the same thing (`INVALID_REQUEST`, `INVALID_OPTION`,
 * `SANDBOX_FILE`, ...), so a client can throw that class too. Refusals with
 * no local counterpart (authentication, policy, a busy server) have none.
 */
export interface ErrorBody {
  error: string;
  code?: string;
}

/**
 * An event of a streamed run as the server sends it: the engine's events,
 * and the `error` that ends a refused or failed run, with the fields of its
 * ErrorBody (`code`) and, for a busy server, its `Retry-After` in seconds.
 */
export type WireStreamEvent = Exclude<StreamEvent, { type: "error" }> | WireErrorEvent;

/** A stream's `error` event on the wire (see WireStreamEvent). */
export interface WireErrorEvent {
  type: "error";
  data: string;
  code?: string;
  retryAfter?: string;
}
