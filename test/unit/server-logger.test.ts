import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createServerLogger } from "../../src/server/logger.js";

/** A logger of this format, and the lines it wrote. */
function logger(format: "text" | "json", debug = false) {
  const lines: string[] = [];
  return { log: createServerLogger(format, debug, (line) => lines.push(line)), lines };
}

describe("the server's logger", () => {
  test("text: the message as an operator reads it, an error's stack after it, the request's id last", () => {
    const { log, lines } = logger("text");
    log.info({ requestId: "r-1", status: 200 }, "GET /health 200 1.2ms");
    const error = new Error("boom");
    log.error({ requestId: "r-2", err: error }, "POST /execute");
    log.warn("WARNING: listening on 0.0.0.0");
    assert.deepEqual(lines.slice(0, 1), ["isol8 serve: GET /health 200 1.2ms (request r-1)"]);
    assert.ok(lines[1]?.startsWith("isol8 serve: POST /execute: Error: boom\n    at "), lines[1]);
    assert.ok(lines[1]?.endsWith(" (request r-2)"), lines[1]);
    assert.equal(lines[2], "isol8 serve: WARNING: listening on 0.0.0.0");
  });

  test("json: one pino object per line with the entry's fields; debug only when asked", () => {
    const quiet = logger("json");
    quiet.log.debug("hidden");
    quiet.log.info({ requestId: "r-1", method: "GET", status: 200 }, "GET /health 200 1ms");
    assert.equal(quiet.lines.length, 1, "no debug entry without debug");
    const entry = JSON.parse(quiet.lines[0] ?? "");
    assert.equal(entry.level, 30);
    assert.equal(entry.msg, "GET /health 200 1ms");
    assert.equal(entry.requestId, "r-1");
    assert.equal(entry.status, 200);
    assert.match(entry.time, /^\d{4}-\d\d-\d\dT.*Z$/);
    assert.ok(!quiet.lines[0]?.endsWith("\n"), "a line, without its newline");
    const loud = logger("json", true);
    loud.log.debug("shown");
    assert.equal(JSON.parse(loud.lines[0] ?? "").level, 20);
  });

  test("a key or a body passed by mistake is written as [redacted]", () => {
    const { log, lines } = logger("json");
    log.info(
      { authorization: "Bearer k-1", req: { headers: { authorization: "Bearer k-2" }, body: "x" } },
      "oops",
    );
    for (const secret of ["k-1", "k-2", '"x"']) assert.ok(!lines[0]?.includes(secret), lines[0]);
    assert.equal(JSON.parse(lines[0] ?? "").authorization, "[redacted]");
  });
});
