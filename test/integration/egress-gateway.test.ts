// The egress gateway driven directly over its unix socket, as a sandbox's
// forwarder would: hostile requests end their own connection, never the engine.
import assert from "node:assert/strict";
import { connect, createServer as createTcpServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type EgressChannel, EgressGateway } from "../../src/network/gateway.js";
import { compilePolicy } from "../../src/network/policy.js";

/** Sends raw bytes on a new connection to the channel and collects the answer until it closes. */
function exchange(channel: EgressChannel, request: string, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(join(channel.directory, "egress.sock"));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    }, ms);
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
    socket.write(request);
  });
}

describe("egress gateway under hostile requests", () => {
  const gateway = new EgressGateway();
  let channel: EgressChannel;
  let rawUpstream: ReturnType<typeof createTcpServer>;
  let rawPort = 0;
  before(async () => {
    // An upstream that answers with an invalid status line.
    rawUpstream = createTcpServer((socket) => {
      socket.on("error", () => undefined);
      socket.once("data", () => socket.end("HTTP/1.1 000 Nothing\r\nContent-Length: 0\r\n\r\n"));
    });
    await new Promise<void>((resolve) => rawUpstream.listen(0, "127.0.0.1", () => resolve()));
    rawPort = (rawUpstream.address() as { port: number }).port;
    channel = await gateway.open(
      compilePolicy({ whitelist: [`localhost:${rawPort}`, "127\\.0\\.0\\.1"], blacklist: [] }),
    );
  });
  after(async () => {
    await gateway.close();
    await new Promise<void>((resolve) => rawUpstream.close(() => resolve()));
  });

  test("a CONNECT to an IPv6 zone id is refused and the gateway keeps serving", async () => {
    const answer = await exchange(channel, "CONNECT [::1%lo]:443 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(answer, /^HTTP\/1\.1 403 Forbidden/);
    const next = await exchange(channel, "CONNECT denied.test:443 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(next, /not on the allow list/);
  });

  test("an upstream's invalid status becomes a 502, not a crash", async () => {
    const answer = await exchange(
      channel,
      `GET http://localhost:${rawPort}/ HTTP/1.1\r\nHost: localhost\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 502 Bad Gateway[\s\S]*upstream: bad status 0/);
    const log = channel.takeLog();
    assert.match(log.entries.at(-1)?.reason ?? "", /bad status/);
  });

  test("the log keeps the first 1000 entries and cuts long paths; the rest are counted", async () => {
    channel.takeLog();
    const path = `/${"a".repeat(5000)}`;
    for (let batch = 0; batch < 11; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, () =>
          exchange(channel, `GET http://blocked.test${path} HTTP/1.1\r\nHost: b\r\n\r\n`),
        ),
      );
    }
    const record = channel.takeLog();
    assert.equal(record.entries.length, 1000);
    assert.equal(record.omitted, 100);
    assert.equal(record.entries[0]?.path?.length, 1024);
  });

  test("connections left open after a run are dropped", async () => {
    const sockets = Array.from({ length: 5 }, () =>
      connect(join(channel.directory, "egress.sock")),
    );
    await Promise.all(sockets.map((s) => new Promise((r) => s.once("connect", r))));
    const closed = sockets.map((s) => new Promise((r) => s.once("close", r)));
    channel.dropConnections();
    await Promise.all(closed);
  });
});
