import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/** A tool's answer of one text block. */
export function text(value: string): CallToolResult {
  return { content: [{ type: "text", text: value }] };
}

/** Runs a tool's body; any error becomes a tool error of one line. */
export async function guarded(body: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await body();
  } catch (error) {
    return { isError: true, content: [{ type: "text", text: oneLine(error) }] };
  }
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const first = message.split("\n").find((line) => line.trim() !== "") ?? "failed";
  if (/connect ENOENT|ECONNREFUSED|docker\.sock/.test(first))
    return `Docker is not reachable (${first}); the sandboxes cannot run`;
  return first.replace(/^isol8: /, "");
}
