// A client cannot make the server's memory grow with JSON that is deeply
// nested or holds millions of tiny values: the body is scanned for depth and
// value count before JSON.parse builds anything. Measured on a real `isol8
// serve` process (the built CLI), by its peak resident memory (VmHWM).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import { MAX_JSON_DEPTH, MAX_JSON_VALUES } from "../../src/server/bounded-json.js";
import { type ServedCli, serveCli } from "../support/serve-cli.js";

const KEY = "body-bounds-master-key-0123456789";
const TEN_MB = 10 * 1024 * 1024 - 1024;
/** Peak growth allowed over the idle server's resident memory for six 10 MB bodies at once. */
const BUDGET_MB = 200;

/** Three shapes of 10 MB that JSON.parse turns into hundreds of MB: nested arrays, nested objects, a flat list of objects. */
function hostileBodies(): Buffer[] {
  const half = Math.floor(TEN_MB / 2);
  const arrays = Buffer.from("[".repeat(half) + "]".repeat(half));
  const levels = Math.floor(TEN_MB / 6);
  const objects = Buffer.from(`${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`);
  const items = Math.floor((TEN_MB - 100) / 3);
  const flat = Buffer.from(
    `{"request":{"runtime":"python","code":"1","metadata":{"k":[${"{},".repeat(items)}{}]}}}`,
  );
  return [arrays, objects, flat];
}

/** Kilobytes of a /proc/PID/status field (VmRSS, VmHWM). */
function procKb(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  assert.ok(match?.[1], `${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

function post(url: string, path: string, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      {
        method: "POST",
        headers: {
          Authorization: `Bearer ${KEY}`,
          "Content-Type": "application/json",
          "Content-Length": body.length,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("JSON bodies are bounded in depth and size before they are parsed", () => {
  let served: ServedCli;
  before(async () => {
    served = await serveCli(KEY);
  });
  after(() => served?.stop());

  test(`six concurrent 10 MB nested bodies: each a 400 naming the problem, peak memory under ${BUDGET_MB} MB above idle, the server still answering`, async (t) => {
    const pid = served.child.pid ?? 0;
    // Warm up the request path once, so the idle figure includes what any request costs.
    assert.equal((await post(served.url, "/execute", Buffer.from("{}"))).status, 400);
    const idleKb = procKb(pid, "VmRSS");
    const bodies = hostileBodies();
    const answers = await Promise.all(
      [0, 1, 2, 0, 1, 2].map((i) => post(served.url, "/execute", bodies[i] as Buffer)),
    );
    const growthMb = (procKb(pid, "VmHWM") - idleKb) / 1024;
    t.diagnostic(`peak resident memory ${growthMb.toFixed(0)} MB above idle`);
    assert.ok(growthMb < BUDGET_MB, `peak ${growthMb.toFixed(0)} MB above idle`);
    for (const [i, answer] of answers.entries()) {
      assert.equal(answer.status, 400, answer.text);
      const expected =
        i % 3 === 2
          ? `body: JSON holds more than ${MAX_JSON_VALUES} values`
          : `body: JSON nested deeper than ${MAX_JSON_DEPTH} levels`;
      assert.deepEqual(JSON.parse(answer.text), { error: expected });
    }
    const health = await fetch(`${served.url}/health`);
    assert.equal(health.status, 200);
    const run = await post(
      served.url,
      "/execute",
      Buffer.from(JSON.stringify({ request: { runtime: "python", code: "print(6 * 7)" } })),
    );
    assert.equal(run.status, 200, run.text);
    assert.equal(JSON.parse(run.text).stdout, "42\n");
  });

  test("a WebSocket message gets the same bound", async () => {
    const ws = new WebSocket(`${served.url.replace(/^http/, "ws")}/execute/ws`, {
      headers: { Authorization: `Bearer ${KEY}` },
    });
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const received = new Promise<string>((resolve) =>
      ws.once("message", (data: Buffer) => resolve(data.toString())),
    );
    ws.send("[".repeat(1000) + "]".repeat(1000));
    const message = JSON.parse(await received);
    assert.match(
      JSON.stringify(message),
      new RegExp(`message: JSON nested deeper than ${MAX_JSON_DEPTH} levels`),
    );
    ws.close();
  });

  test("requests of legitimate shape and size still pass the scan", async () => {
    const files = Object.fromEntries(
      Array.from({ length: 4000 }, (_, i) => [`/sandbox/f${i}.txt`, `${i}`]),
    );
    const body = {
      request: {
        runtime: "python",
        code: "import os; print(len(os.listdir('/sandbox')))",
        files,
        metadata: { owner: "tests" },
      },
    };
    const answer = await post(served.url, "/execute", Buffer.from(JSON.stringify(body)));
    assert.equal(answer.status, 200, answer.text);
    assert.equal(JSON.parse(answer.text).stdout, "4001\n");
  });
});
