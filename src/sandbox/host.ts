import type { ProcessTable } from "./process-table.js";

/** What `commands` and `pty` need of their sandbox. */
export interface ProcessHost {
  readonly table: ProcessTable;
  /** The environment every process starts from: the engine's, the sandbox's, and secrets. */
  readonly env: Readonly<Record<string, string>>;
  /** Throws SandboxEndedError once the sandbox has ended. */
  assertRunning(): void;
}
