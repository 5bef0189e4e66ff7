// Engines a test file starts, and what their runs returned or streamed.
import { after } from "node:test";
import { DockerIsol8 } from "../../src/engine/docker-isol8.js";
import type {
  DockerIsol8Options,
  ExecutionRequest,
  ExecutionResult,
  StreamEvent,
} from "../../src/types.js";

/** An engine that is stopped (its containers removed) when the test file ends. */
export function engine(options: DockerIsol8Options = {}): DockerIsol8 {
  const isol8 = new DockerIsol8(options);
  after(() => isol8.stop());
  return isol8;
}

/** Runs one request on a throwaway engine and removes its container before returning. */
export async function runOnce(
  request: ExecutionRequest,
  options: DockerIsol8Options = {},
): Promise<ExecutionResult> {
  const isol8 = new DockerIsol8(options);
  try {
    return await isol8.execute(request);
  } finally {
    await isol8.stop();
  }
}

/** Collects every event of a streamed run, with the time each arrived. */
export async function collectStream(
  isol8: DockerIsol8,
  request: ExecutionRequest,
): Promise<{ event: StreamEvent; at: number }[]> {
  const started = performance.now();
  const events: { event: StreamEvent; at: number }[] = [];
  for await (const event of isol8.executeStream(request))
    events.push({ event, at: performance.now() - started });
  return events;
}
