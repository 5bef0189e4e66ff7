import type { Principal } from "./auth/authenticator.js";

/** Hono's typing of what middleware hands to routes. */
export interface AppEnv {
  Variables: { principal: Principal };
}
