// The egress gateway driven directly over its unix socket, as a sandbox's
// forwarder would: hostile requests end their own connection, never the engine;
// a client gone before its host name resolved holds no connection count.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { lookup } from "node:dns/promises";
import { closeSync, constants, openSync } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { connect, createServer as createTcpServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type EgressChannel,
  EgressGateway,
  type RunNetworkRecord,
} from "../../src/network/gateway.js";
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

/** Sends `request` on a new connection and hangs up at once; resolves with what came back once the gateway has closed its side too. */
function hangUp(channel: EgressChannel, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(join(channel.directory, "egress.sock"));
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.end(request);
  });
}

/**
 * Holds every thread of libuv's pool, where dns.lookup() runs getaddrinfo(3)
 * (as Node's documentation says): each blocks opening a FIFO that has no
 * writer yet, so lookups started meanwhile wait in the pool's queue until
 * release(). A lookup as slow as a test needs, with no name server and no
 * traffic off the machine. held() says a lookup queued after the FIFOs is
 * still waiting (the queue is first in, first out).
 */
async function holdLookups(): Promise<{ held(): boolean; release(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "isol8-lookups-"));
  // libuv's default is 4 threads; holding more than there are only queues the rest first.
  const threads = Math.min(Math.max(Number(process.env.UV_THREADPOOL_SIZE) || 0, 4), 1024);
  const fifos = Array.from({ length: threads }, (_, i) => join(dir, `fifo${i}`));
  for (const fifo of fifos) execFileSync("mkfifo", [fifo]);
  const readers = fifos.map((fifo) => open(fifo, "r"));
  let probed = false;
  const probe = lookup("localhost").finally(() => {
    probed = true;
  });
  return {
    held: () => !probed,
    async release() {
      // O_RDWR never blocks on a FIFO (Linux) and is the writer each reader waits for.
      const writers = fifos.map((fifo) => openSync(fifo, constants.O_RDWR));
      try {
        for (const reader of await Promise.all(readers)) await reader.close();
      } finally {
        for (const fd of writers) closeSync(fd);
      }
      await probe;
      await rm(dir, { recursive: true, force: true });
    },
  };
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
    // Connected on the client's side is not yet accepted on the gateway's.
    while (channel.connectionCount < sockets.length) await new Promise((r) => setTimeout(r, 5));
    const closed = sockets.map((s) => new Promise((r) => s.once("close", r)));
    channel.dropConnections();
    await Promise.all(closed);
  });
});

describe("egress gateway: clients that hang up while their host name resolves", () => {
  const gateway = new EgressGateway();
  let channel: EgressChannel;
  let upstream: ReturnType<typeof createTcpServer>;
  let port = 0;
  /** Connections the upstream has had; each is held open until it gets a request. */
  let connections = 0;
  const held = new Set<Socket>();
  const CLIENTS = 40;
  const REPLY = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nserved";
  before(async () => {
    upstream = createTcpServer((socket) => {
      connections++;
      held.add(socket);
      socket.on("close", () => held.delete(socket));
      socket.on("error", () => undefined);
      socket.once("data", () => socket.end(REPLY));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", () => resolve()));
    port = (upstream.address() as { port: number }).port;
    channel = await gateway.open(
      compilePolicy({ whitelist: [`localhost:${port}`, "127\\.0\\.0\\.1"], blacklist: [] }),
    );
  });
  after(async () => {
    await gateway.close();
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  /**
   * The run's record as the engine takes it after a run, which waits while
   * connections are open: it must come at once, everything having closed.
   */
  async function settledPromptly(): Promise<RunNetworkRecord> {
    const started = performance.now();
    const record = await channel.settledLog(5000);
    const waited = performance.now() - started;
    assert.ok(waited < 1000, `waited ${Math.round(waited)} ms for connections still counted open`);
    return record;
  }

  test("plain HTTP: the hung-up requests are never sent on, and nothing stays counted open", async () => {
    channel.takeLog();
    connections = 0;
    const lookups = await holdLookups();
    try {
      const answers = await Promise.all(
        Array.from({ length: CLIENTS }, (_, i) =>
          hangUp(
            channel,
            `GET http://localhost:${port}/gone${i} HTTP/1.1\r\nHost: localhost\r\n\r\n`,
          ),
        ),
      );
      assert.ok(lookups.held(), "the clients hung up while their lookups waited");
      assert.deepEqual(new Set(answers), new Set([""]), "no answer before the lookup");
    } finally {
      await lookups.release();
    }
    const answer = await exchange(
      channel,
      `GET http://localhost:${port}/after HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nserved$/);
    assert.equal(connections, 1, "only the request that stayed reached the upstream");
    const record = await settledPromptly();
    assert.equal(record.entries.length, CLIENTS + 1);
    assert.deepEqual(record.entries.at(-1), {
      ...record.entries.at(-1),
      path: "/after",
      action: "ALLOW",
      bytesIn: REPLY.length,
    });
  });

  test("CONNECT: tunnels dropped at a run's end during their lookups connect nowhere and count nothing", async () => {
    channel.takeLog();
    connections = 0;
    const lookups = await holdLookups();
    let entries = 0;
    try {
      const clients = Array.from({ length: CLIENTS }, () => {
        const socket = connect(join(channel.directory, "egress.sock"));
        const chunks: Buffer[] = [];
        socket.on("data", (c) => chunks.push(c));
        socket.on("error", () => undefined);
        socket.write(`CONNECT localhost:${port} HTTP/1.1\r\nHost: localhost:${port}\r\n\r\n`);
        return new Promise<string>((resolve) =>
          socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1"))),
        );
      });
      // Every CONNECT has reached the gateway (its log entry is made before the lookup).
      for (let tries = 0; entries < CLIENTS && tries < 1000; tries++) {
        entries += channel.takeLog().entries.length;
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(entries, CLIENTS, "every CONNECT reached the gateway");
      channel.dropConnections();
      const answers = await Promise.all(clients);
      assert.ok(lookups.held(), "the tunnels were dropped while their lookups waited");
      assert.deepEqual(new Set(answers), new Set([""]), "no answer before the lookup");
    } finally {
      await lookups.release();
    }
    const answer = await exchange(
      channel,
      `CONNECT localhost:${port} HTTP/1.1\r\nHost: localhost:${port}\r\n\r\nGET / HTTP/1.1\r\nHost: localhost\r\n\r\n`,
    );
    assert.match(
      answer,
      /^HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nserved$/,
    );
    assert.equal(connections, 1, "only the tunnel that stayed reached the upstream");
    const record = await settledPromptly();
    assert.equal(record.entries.length, 1);
    assert.equal(record.entries[0]?.method, "CONNECT");
  });
});
