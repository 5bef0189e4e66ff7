import type { DebugLog } from "../engine/debug-log.js";
import type { ResolvedOptions } from "../engine/options.js";
import type { RunSpec } from "../engine/protocol.js";
import type { SandboxContainer } from "../engine/sandbox-container.js";
import type { EgressChannel } from "../network/gateway.js";
import type { SecretSet } from "../output/secret-masker.js";
import type { Runtime } from "../runtimes/runtime.js";

/** What a context needs from its engine. */
export interface ContextHost {
  options: ResolvedOptions;
  /** The engine's secrets, masked in every cell's output, value, text outputs and errors. */
  secrets: SecretSet;
  log: DebugLog;
  /** The image a runtime runs in. */
  image(runtime: Runtime): string;
  /** A started container for a context, kept until the context closes. */
  container(image: string): Promise<SandboxContainer>;
  /** The run request of a program of `runtime` (environment, working directory, prestart). */
  runSpec(runtime: Runtime): RunSpec;
  /** Readies a context's container before each kernel starts in it (files the environment points at). */
  prepare(container: SandboxContainer, runtime: Runtime): Promise<void>;
  /** Runs `work` in one of the engine's execution slots. */
  slot<T>(work: () => Promise<T>): Promise<T>;
  /** The container's channel through the egress gateway (filtered network), if it has one. */
  egress(container: SandboxContainer): EgressChannel | undefined;
}
