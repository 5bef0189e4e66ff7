import type { Principal } from "./auth/authenticator.js";

/** Hono's typing of what middleware hands to routes. */
export interface AppEnv {
  /** `requestId`: the client's X-Request-Id when it is a sane one, otherwise a new UUID; echoed in the answer. */
  Variables: { principal: Principal; requestId: string };
}
