import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { RemoteIsol8 } from "../../src/index.js";

test("await using a RemoteIsol8 with a session deletes the session when the block ends", async (t) => {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url} ${request.headers.authorization}`);
    response.writeHead(200, { "Content-Type": "application/json" }).end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  {
    await using client = new RemoteIsol8({ host, apiKey: "k", sessionId: "s 1" });
    assert.ok(client);
    assert.deepEqual(requests, []);
  }
  assert.deepEqual(requests, ["DELETE /session/s%201 Bearer k"]);
});

test("a remote streamed run disposed before it was iterated sends nothing", async () => {
  const client = new RemoteIsol8({ host: "http://127.0.0.1:9", apiKey: "k" });
  const run = client.executeStream({ runtime: "python", code: "print(1)" });
  await run[Symbol.asyncDispose]();
  assert.deepEqual(await run.next(), { done: true, value: undefined });
});
