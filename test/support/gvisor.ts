// The gVisor tier's precondition: runsc registered with Docker as isol8 needs it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * Docker lists runsc with the arguments scripts/install-gvisor.sh gives it,
 * and its binary is there (dockerd keeps listing a runtime whose binary went).
 */
function runscRegistered(): boolean {
  try {
    const runtimes = JSON.parse(
      execFileSync("docker", ["info", "--format", "{{json .Runtimes}}"], { encoding: "utf8" }),
    ) as Record<string, { path?: string; runtimeArgs?: string[] }>;
    const { path = "", runtimeArgs = [] } = runtimes.runsc ?? {};
    return (
      existsSync(path) &&
      runtimeArgs.includes("--network=none") &&
      runtimeArgs.includes("--oci-seccomp") &&
      runtimeArgs.includes("--host-uds=open")
    );
  } catch {
    return false;
  }
}

/**
 * A `before` hook for files that run sandboxes under runsc: fails them with
 * the set-up advice when runsc is not registered. Tests never install
 * software: the set-up command (scripts/setup.sh, or `npm run setup:gvisor`
 * on its own) registers it.
 */
export function requireRunsc(): void {
  assert.ok(
    runscRegistered(),
    "runsc is not registered with Docker as isol8 needs it; run `npm run setup:gvisor` (scripts/install-gvisor.sh)",
  );
}
