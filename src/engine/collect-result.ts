import type { ExecutionResult, ExecutionSummary, StreamEvent } from "../types.js";

type Phase = "install" | "setup" | "code";

/**
 * Whose output a result shows: the installer's or the setup script's when
 * that step failed (the program did not run), otherwise the program's.
 */
function shownPhase(result: Pick<ExecutionResult, "installFailed" | "setupFailed">): Phase {
  if (result.installFailed) return "install";
  return result.setupFailed ? "setup" : "code";
}

/**
 * Turns the events of a run into the buffered result every face returns
 * (`execute()`, `isol8 run` without `--stream`, `POST /execute`, MCP tools):
 * each phase's output is held apart, and the result shows only the phase
 * `shownPhase` names, so an install's or setup script's output never mixes
 * into the program's. The events come masked from the engine; nothing here
 * sees output the caller may not.
 */
export class ResultCollector {
  private readonly held: Record<Phase, { stdout: string[]; stderr: string[] }> = {
    install: { stdout: [], stderr: [] },
    setup: { stdout: [], stderr: [] },
    code: { stdout: [], stderr: [] },
  };
  /** The `error` events' texts (timeout, OOM, truncation, withheld files), in order. */
  readonly notices: string[] = [];
  private summary: ExecutionSummary | undefined;

  /** Takes one event of the run. */
  add(event: StreamEvent): void {
    if (event.type === "error") this.notices.push(event.data);
    else if (event.type === "exit") this.summary = event.result;
    else this.held[event.phase ?? "code"][event.type].push(event.data);
  }

  /** The result, once the `exit` event came (or with the run's summary, for a producer that has it). */
  result(summary = this.summary): ExecutionResult {
    if (!summary) throw new Error("the run ended without an exit event");
    const shown = this.held[shownPhase(summary)];
    return { ...summary, stdout: shown.stdout.join(""), stderr: shown.stderr.join("") };
  }
}

/** Collects a whole stream of events into its result and notices. */
export async function collectResult(
  events: AsyncIterable<StreamEvent>,
): Promise<{ result: ExecutionResult; notices: string[] }> {
  const collector = new ResultCollector();
  for await (const event of events) collector.add(event);
  return { result: collector.result(), notices: collector.notices };
}
