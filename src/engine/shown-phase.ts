import type { ExecutionResult } from "../types.js";

/**
 * Whose output a result shows: the installer's or the setup script's when
 * that step failed (the program did not run), otherwise the program's.
 */
export function shownPhase(
  result: Pick<ExecutionResult, "installFailed" | "setupFailed">,
): "install" | "setup" | "code" {
  if (result.installFailed) return "install";
  return result.setupFailed ? "setup" : "code";
}
