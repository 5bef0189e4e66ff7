// The server's log against requests that try to write into it: a path whose
// percent-encoded newline or escape sequence the router decodes, a token in a
// query string, a bearer key, a body carrying secrets. None of this needs
// Docker: every request here is answered before an engine is asked.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createServerLogger } from "../../src/server/logger.js";
import { startServer } from "../support/server.js";

const lines: string[] = [];
const server = await startServer({ logFormat: "text" }, (line) => lines.push(line));

/** The lines the server wrote while `send` ran. */
async function logged(send: () => Promise<Response>): Promise<{ status: number; lines: string[] }> {
  const from = lines.length;
  const response = await send();
  await response.arrayBuffer();
  return { status: response.status, lines: lines.slice(from) };
}

test("text log: a path cannot forge a line of its own or send escape sequences to the terminal", async () => {
  const forged =
    "/nope%0Aisol8%20serve:%20GET%20/admin%20200%200ms%0D%1B[2J%1B]0;owned%07%C2%9B31m";
  const { status, lines: written } = await logged(() => server.call(forged));
  assert.equal(status, 404);
  assert.equal(written.length, 1, written.join("|"));
  const line = written[0] ?? "";
  assert.ok(!/[\n\r]/.test(line), line);
  assert.ok(
    !/\p{Cc}/u.test(line),
    `no control character is written as is: ${JSON.stringify(line)}`,
  );
  // What was sent is still readable in the line, escaped.
  assert.match(line, /^isol8 serve: GET \/nope\\x0aisol8 serve: GET \/admin 200 0ms\\x0d\\x1b\[2J/);
  assert.match(line, / 404 [\d.]+ms \(request [\w-]+\)$/);
});

test("neither a query string's token, a bearer key nor a body's secrets reach the log", async () => {
  const token = "tok-5f1d0c9e";
  const key = "key-9a8b7c6d5e4f";
  const secret = "sekrit-31337";
  const queried = await logged(() => server.call(`/sessions?access_token=${token}`));
  const wrongKey = await logged(() => server.call("/sessions", { key }));
  const refused = await logged(() =>
    server.call("/execute", {
      method: "POST",
      body: JSON.stringify({ code: `print("${secret}")`, runtime: "nope", secrets: { K: secret } }),
    }),
  );
  assert.deepEqual([queried.status, wrongKey.status, refused.status], [200, 403, 400]);
  const all = [...queried.lines, ...wrongKey.lines, ...refused.lines];
  assert.equal(all.length, 3, all.join("|"));
  for (const value of [token, "access_token", key, secret])
    assert.ok(!all.some((line) => line.includes(value)), `${value} in ${all.join("|")}`);
});

test("text log: an error's message keeps its stack's lines but not its escape sequences", () => {
  const written: string[] = [];
  const log = createServerLogger("text", false, (line) => written.push(line));
  log.error({ err: new Error("engine said \x1b[31mred\x1b[0m") }, "POST /execute\r\nforged");
  assert.equal(written.length, 1);
  const [first, ...stack] = (written[0] ?? "").split("\n");
  assert.equal(
    first,
    "isol8 serve: POST /execute\\x0d\\x0aforged: Error: engine said \\x1b[31mred\\x1b[0m",
  );
  assert.ok(stack.length > 0 && stack.every((line) => line.startsWith("    at ")), written[0]);
  assert.ok(!(written[0] ?? "").includes("\x1b"));
});
